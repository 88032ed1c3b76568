"""Bad input and faults: every refusal names the fix. Paths, overlaps, broken pointers,
permissions, the repo lock, and commands killed or interrupted half way."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from polling import wait_until

from cairn.errors import LockedError, OverlapError, PathError, PermissionDeniedError, PointerError, shown

# -- paths -----------------------------------------------------------------------------------


def test_path_outside_the_repository(repo, tmp_path, assert_error):
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"x")

    proc = repo.cairn("add", "../elsewhere.bin", expect=None)
    assert_error(proc, PathError, "../elsewhere.bin is outside the repository at", "move the data into the repository")
    proc = repo.cairn("add", str(outside), expect=None)
    assert_error(proc, PathError, f"{outside} is outside the repository at {repo.root}")


@pytest.mark.parametrize("path", [".cairn/config.toml", ".cairn", ".git", ".git/config"])
def test_paths_cairn_manages_itself(repo, assert_error, path):
    top = path.split("/")[0]
    proc = repo.cairn("add", path, expect=None)
    assert_error(proc, PathError, f"{path} is inside {top}/, which cairn manages itself", "outside .cairn/ and .git/")


def test_bad_add_targets(repo, assert_error):
    repo.write({"data/x.bin": b"x"})
    repo.cairn("add", "data")

    assert_error(repo.cairn("add", "nope", expect=None), PathError, "nope does not exist", "relative to where you are")
    assert_error(repo.cairn("add", ".", expect=None), PathError, "the repository root itself cannot be tracked")
    assert_error(
        repo.cairn("add", "data.cairn", expect=None), PathError, "data.cairn is a pointer file", "cairn add data"
    )


def test_path_git_already_tracks(repo, assert_error):
    repo.write({"data/a.csv": b"a", "data/b.csv": b"b", "notes.txt": b"n"})
    repo.commit("data in git")

    proc = repo.cairn("add", "data", expect=None)
    assert_error(proc, PathError, "git already tracks data/a.csv and 1 more", "git rm -r --cached data")
    proc = repo.cairn("add", "notes.txt", expect=None)
    assert_error(proc, PathError, "git already tracks notes.txt", "git rm -r --cached notes.txt")
    assert not (repo.root / "data.cairn").exists()

    # The fix it names works.
    repo.git("rm", "-r", "-q", "--cached", "data")
    repo.cairn("add", "data")


def test_overlapping_tracked_paths(repo, assert_error):
    repo.write({"data/sub/x.bin": b"x", "data/y.bin": b"y", "other/sub/z.bin": b"z"})
    repo.cairn("add", "data")

    proc = repo.cairn("add", "data/sub", expect=None)
    assert_error(
        proc,
        OverlapError,
        "data/sub is inside data, which is already tracked (data.cairn)",
        "re-add the whole folder instead: cairn add data",
    )
    repo.cairn("add", "other/sub")
    repo.write({"other/new.bin": b"new"})
    cached = repo.cache_oids()
    proc = repo.cairn("add", "other", expect=None)
    assert_error(
        proc,
        OverlapError,
        "other contains other/sub.cairn, which is tracked on its own",
        "remove that pointer first (git rm other/sub.cairn) and then add other",
    )
    assert not (repo.root / "other.cairn").exists()
    assert not (repo.root / "data" / "sub.cairn").exists()
    assert repo.cache_oids() == cached  # refused before anything was stored
    # once the pointer is committed (as a user would), the same overlap, not "git already
    # tracks other/.gitignore" with a `git rm -r --cached other` that would untrack the pointer
    repo.commit("other/sub")
    proc = repo.cairn("add", "other", expect=None)
    assert_error(proc, OverlapError, "other contains other/sub.cairn, which is tracked on its own")
    assert repo.cache_oids() == cached


# -- broken pointers -------------------------------------------------------------------------


@pytest.fixture
def pointer(repo):
    repo.write({"data/x.bin": b"x"})
    repo.cairn("add", "data")
    repo.commit("track data")
    return repo.root / "data.cairn"


def edit_pointer(pointer_file: Path, **changes) -> None:
    doc = yaml.safe_load(pointer_file.read_text())
    doc.update(changes)
    pointer_file.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize("command", [["status"], ["checkout"], ["diff"], ["gc"], ["fsck"]])
def test_pointer_with_broken_yaml(repo, pointer, assert_error, command):
    pointer.write_text("version: 1\npath: [data\n")

    proc = repo.cairn(*command, expect=None)

    assert_error(
        proc,
        PointerError,
        "pointer file data.cairn is not valid YAML at line 3, column 1",
        "restore it with `git checkout -- data.cairn` or re-create it with `cairn add`",
    )


def test_broken_pointer_fixes_work(repo, pointer):
    pointer.write_text("garbage: [")
    repo.git("checkout", "--", "data.cairn")
    repo.cairn("status", "-q")
    pointer.write_text("garbage: [")
    repo.cairn("add", "data")
    repo.cairn("status", "-q")
    assert repo.git("status", "--porcelain").strip() == ""


def test_pointer_with_unknown_version(repo, pointer, assert_error):
    edit_pointer(pointer, version=2)

    for command in ("status", "checkout"):
        proc = repo.cairn(command, expect=None)
        assert_error(
            proc,
            PointerError,
            "pointer file data.cairn has format version 2; this cairn understands version 1",
            "upgrade cairn",
        )


@pytest.mark.parametrize("bad", ["../outside", "../proj/../outside", "ABSOLUTE"])
def test_pointer_path_escaping_the_repo(repo, pointer, assert_error, bad, tmp_path):
    # The targets are a canary folder of this test, never a real system path: if the check ever
    # regressed, `checkout --force` would empty whatever the pointer names.
    canary = tmp_path / "outside"
    canary.mkdir()
    (canary / "keep.txt").write_text("canary")
    bad = str(canary) if bad == "ABSOLUTE" else bad
    edit_pointer(pointer, path=bad)

    for command in ("status", "checkout", "diff"):
        proc = repo.cairn(command, "--force" if command == "checkout" else "--json", expect=None)
        assert_error(
            proc,
            PointerError,
            f"pointer file data.cairn points outside the repository ({shown(bad)})",  # a long path is cut
            "a pointer's `path` must be a name beside the pointer file",
        )
    assert [p.name for p in canary.iterdir()] == ["keep.txt"]


def test_pointer_path_with_a_folder(repo, pointer, assert_error):
    edit_pointer(pointer, path="data/x.bin")

    proc = repo.cairn("status", expect=None)

    assert_error(proc, PointerError, "pointer file data.cairn has path 'data/x.bin'; it must name the file or folder")


@pytest.mark.parametrize("name", [".git", ".cairn"])
def test_pointer_naming_git_or_cairn_dirs_is_refused(repo, pointer, assert_error, name):
    evil = repo.root / "evil.cairn"
    shutil.copy(pointer, evil)
    edit_pointer(evil, path=name)

    proc = repo.cairn("checkout", "--force", expect=None)

    try:
        assert_error(proc, PointerError, "pointer file evil.cairn")
        assert name in proc.stderr
    finally:
        assert (repo.root / name).is_dir(), f"checkout destroyed {name}/"


# -- permissions -----------------------------------------------------------------------------


@pytest.fixture
def enforce_permissions(permissions_enforced):
    if not permissions_enforced:
        pytest.skip("running as root without CAP_SETPCAP: chmod 000 cannot be made to block reads here")


@pytest.mark.parametrize("what", ["file", "folder"])
def test_unreadable_file_or_folder(repo, make_dataset, enforce_permissions, assert_error, what):
    make_dataset(repo.root / "data", count=4)
    locked = repo.root / "data" / ("secret.bin" if what == "file" else "private")
    if what == "file":
        locked.write_bytes(b"secret")
    else:
        (locked / "inner.bin").parent.mkdir()
        (locked / "inner.bin").write_bytes(b"inner")
    locked.chmod(0)
    try:
        proc = repo.cairn("add", "data", expect=None, drop_dac=True)

        assert_error(
            proc,
            PermissionDeniedError,
            f"permission denied: cannot read {locked}",
            "fix the file's permissions (chmod u+r) or add it to .cairnignore",
        )
        assert not (repo.root / "data.cairn").exists()
        # The second fix it names works.
        (repo.root / ".cairnignore").write_text(f"/data/{locked.name}\n")
        repo.cairn("add", "data", drop_dac=True)
        repo.cairn("status", "-q", drop_dac=True)
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("where", ["workspace folder", "cache"])
def test_unwritable_folder_is_an_error_not_a_traceback(repo, enforce_permissions, assert_error, where):
    repo.write({"data/x.bin": b"x"})
    repo.cairn("add", "data")
    repo.write({"data/y.bin": b"y"})
    folder = repo.root if where == "workspace folder" else repo.root / ".cairn" / "cache" / "tmp"
    folder.chmod(0o555)
    try:
        proc = repo.cairn("add", "data", expect=None, drop_dac=True)
    finally:
        folder.chmod(0o755)

    assert "Traceback" not in proc.stderr
    assert_error(proc, PermissionDeniedError, "permission denied: ", "writable")
    repo.assert_cache_sound()
    repo.cairn("add", "data")
    repo.cairn("status", "-q")


# -- the repo lock ---------------------------------------------------------------------------

HOLD_LOCK = """\
import sys
from pathlib import Path

from cairn.repo import Repo

with Repo(Path(sys.argv[1])).lock():
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin
"""


@pytest.mark.parametrize("command", [["add", "data"], ["checkout"], ["gc", "--yes"], ["unprotect", "data"]])
def test_second_writer_fails_naming_the_holder(repo, make_dataset, assert_error, tmp_path, command):
    make_dataset(repo.root / "data", count=3)
    repo.cairn("add", "data")
    repo.cairn("config", "core.lock_wait", "0.5")
    script = tmp_path / "hold_lock.py"
    script.write_text(HOLD_LOCK)
    with subprocess.Popen(
        [sys.executable, str(script), str(repo.root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        try:
            proc = repo.cairn(*command, expect=None)
            # readers do not lock
            status = repo.cairn("status")
        finally:
            holder.kill()
    assert_error(
        proc,
        LockedError,
        f"the repository is locked by PID {holder.pid} (python {script} {repo.root}), running since ",
        "wait for it to finish, or raise core.lock_wait",
    )
    assert f"waiting for the lock held by PID {holder.pid} (python {script} {repo.root}) since " in proc.stderr
    assert "data: unchanged" in status.stdout
    # The OS released the lock when the holder died: the same command now works.
    repo.cairn(*command)


# -- interruptions ---------------------------------------------------------------------------

BIG = {"count": 3000, "size": 4096, "depth": 2, "fanout": 10}


def count_objects(repo) -> int:
    objects = repo.objects_dir
    if not objects.exists():
        return 0
    return sum(len(os.listdir(fan)) for fan in os.scandir(objects))


def pack_bytes_written(proc: subprocess.Popen) -> int:
    """Bytes in the local packs the process is writing: unnamed files until sealed (small files
    go there, docs/formats.md), seen through /proc."""
    total = 0
    try:
        fds = os.listdir(f"/proc/{proc.pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            if "/.cairn/cache/packs" in os.readlink(f"/proc/{proc.pid}/fd/{fd}"):
                total += os.stat(f"/proc/{proc.pid}/fd/{fd}").st_size
        except OSError:
            continue
    return total


def interrupt(proc: subprocess.Popen, sig: signal.Signals) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, err
        assert err.strip() == "interrupted: nothing half-written was kept; run the command again to finish"
    return out, err


@pytest.fixture(scope="module")
def big_template(tmp_path_factory, run_cairn, git, make_dataset):
    """A repository whose data/ (3,000 files) is tracked at v1 (a 10-file version) and on disk at
    v2, and a second one with v2 added and committed. Tests copy them instead of rebuilding."""
    base = tmp_path_factory.mktemp("big")
    v1 = base / "v1"
    v1.mkdir()
    git("init", "-q", "-b", "main", cwd=v1)
    git("config", "user.name", "Cairn Tester", cwd=v1)
    git("config", "user.email", "tester@example.com", cwd=v1)
    run_cairn("init", cwd=v1)
    make_dataset(v1 / "data", count=10, size=100, seed=1)
    run_cairn("add", "data", cwd=v1)
    git("add", "-A", cwd=v1)
    git("commit", "-q", "-m", "v1", cwd=v1)
    shutil.rmtree(v1 / "data")
    files = make_dataset(v1 / "data", **BIG)
    v2 = base / "v2"
    shutil.copytree(v1, v2, symlinks=True)
    run_cairn("add", "data", cwd=v2)
    git("commit", "-q", "-am", "v2", cwd=v2)
    return v1, v2, files


def copy_of(template: Path, repo) -> None:
    shutil.rmtree(repo.root)
    shutil.copytree(template, repo.root, symlinks=True)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_add_leaves_old_pointer_and_sound_cache(repo, big_template, start_cairn, sig):
    template, _, files = big_template
    copy_of(template, repo)
    old_pointer = (repo.root / "data.cairn").read_text()

    before = repo.cache_oids()
    proc = start_cairn("add", "data", cwd=repo.root)

    def filled() -> bool:  # 200 files of 512 bytes or more in the pack being written (or loose)
        return count_objects(repo) >= 200 or pack_bytes_written(proc) >= 200 * 512

    wait_until(filled, proc, "the cache filled up a little")
    interrupt(proc, sig)

    repo.assert_cache_sound()
    assert (repo.root / "data.cairn").read_text() == old_pointer
    assert len(repo.cache_oids() - before) < len(files)  # only whole packs (none here: one pack's worth)
    # Running it again finishes the job.
    repo.cairn("add", "data")
    oid, size, count = repo.expected("data")
    assert repo.pointer("data") == {
        "version": 1,
        "path": "data",
        "kind": "tree",
        "oid": oid,
        "size": size,
        "files": count,
    }
    repo.cairn("status", "-q")
    repo.cairn("fsck")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_checkout_leaves_only_whole_files(repo, big_template, start_cairn, sig):
    _, template, files = big_template
    copy_of(template, repo)
    data = repo.root / "data"
    shutil.rmtree(data)

    proc = start_cairn("checkout", cwd=repo.root)
    wait_until(lambda: data.exists() and sum(len(f) for _, _, f in os.walk(data)) >= 200, proc, "files appeared")
    interrupt(proc, sig)

    present = {p.relative_to(data).as_posix(): p for p in data.rglob("*") if p.is_file()}
    assert 200 <= len(present) < len(files)
    for rel, path in present.items():
        assert rel in files, f"stray file {rel} (a temp file?) in the workspace"
        assert path.read_bytes() == files[rel], f"{rel} is half-written"
    repo.assert_cache_sound()
    # Running it again finishes the job.
    repo.cairn("checkout")
    assert len([p for p in data.rglob("*") if p.is_file()]) == len(files)
    repo.cairn("status", "-q")
