"""Bad input and safety of the merge driver and of `cairn merge resolve`: damaged or unknown
pointers, no common base, renamed pointers, a driver outside a cairn repository, folder versions
nobody has, gc during an unfinished merge, and kill -9 in the middle of a driver or a resolve."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from blake3 import blake3

from cairn.errors import MergeError, NotARepoError, PointerError


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}


def git_merge(repo, branch: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "merge", "--no-edit", branch], cwd=repo.root, capture_output=True, text=True, env=_env()
    )


class Versions:
    """Three pointer texts of data/images made in one repository (every tree in its cache), and
    the driver run on them as git runs it (temp files in the work tree's top)."""

    def __init__(self, repo) -> None:
        self.repo = repo
        repo.write({"data/images/a.png": b"a", "data/images/b.png": b"b", "data/images/c.png": b"c"})
        self.base = self._add()
        repo.write({"data/images/b.png": b"b ours", "data/images/d.png": b"d"})
        self.ours = self._add()
        (repo.root / "data/images/d.png").unlink()
        repo.write({"data/images/b.png": b"b", "data/images/e.png": b"e"})
        self.theirs = self._add()

    def _add(self) -> str:
        self.repo.cairn("add", "data/images")
        return (self.repo.root / "data/images.cairn").read_text()

    def driver(self, base: str | None = None, ours: str | None = None, theirs: str | None = None, **kw):
        files = {}
        for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
            files[name] = self.repo.root / f".merge_file_{name}"
            files[name].write_text(getattr(self, name) if text is None else text)
        proc = self.repo.cairn("merge", "driver", *(files[n].name for n in files), "data/images.cairn", **kw)
        return proc, files["ours"].read_text()


@pytest.fixture
def versions(repo) -> Versions:
    return Versions(repo)


def test_driver_merges_the_three_versions(versions):
    proc, out = versions.driver()
    assert proc.returncode == 0
    merged = versions.repo
    merged.write({"data/images/b.png": b"b ours", "data/images/d.png": b"d"})
    assert f"oid: {merged.expected('data/images')[0]}\n" in out and "files: 5\n" in out


def test_a_damaged_or_unknown_pointer_on_one_side_stops_the_merge(versions, assert_error):
    for bad, message in (
        ("version: 1\npath: images\nkind: tree\noid: [\n", "pointer file data/images.cairn (theirs) is not valid YAML"),
        (versions.theirs.replace("version: 1", "version: 9"), "data/images.cairn (theirs) has format version 9"),
    ):
        proc, out = versions.driver(theirs=bad, expect=None)
        assert_error(proc, PointerError, message, "take one side whole: `git checkout --ours -- data/images.cairn`")
        assert out == versions.ours  # %A untouched: git keeps ours and reports a conflict


def test_no_common_base_merges_distinct_files_and_conflicts_on_the_rest(versions):
    """git passes an empty %O for criss-cross merges without a base and unrelated histories."""
    proc, out = versions.driver(base="", expect=1)
    assert "both-added" in proc.stderr and "b.png" in proc.stderr  # b differs and nothing says which side changed it
    assert out == versions.ours
    state = json.loads((versions.repo.root / ".cairn/state/merge.json").read_text())
    assert state["version"] == 1
    assert [c["path"] for c in state["pointers"]["data/images.cairn"]["conflicts"]] == ["b.png"]


def test_a_renamed_pointer_is_a_conflict_on_the_whole_pointer(versions):
    proc, out = versions.driver(theirs=versions.theirs.replace("path: images", "path: pictures"), expect=1)
    assert "rename" in proc.stderr and "(the whole pointer)" in proc.stderr
    assert out == versions.ours


def test_the_driver_outside_a_cairn_repository(git_repo, run_cairn, assert_error):
    for name in ("b", "o", "t"):
        (git_repo / name).write_text("version: 1\n")
    proc = run_cairn("merge", "driver", "b", "o", "t", "x.cairn", cwd=git_repo, expect=None)
    assert_error(proc, NotARepoError, "is a git repository but not a cairn repository", "cairn init")


def test_a_folder_version_nobody_has_is_a_conflict_naming_it(versions, tmp_path):
    repo = versions.repo
    theirs_root = versions.theirs.split("oid: ")[1].split("\n")[0]
    repo.object_path(theirs_root).unlink()
    proc, out = versions.driver(expect=1)
    assert "missing-object" in proc.stderr and out == versions.ours
    state = json.loads((repo.root / ".cairn/state/merge.json").read_text())
    reason = state["pointers"]["data/images.cairn"]["reason"]
    assert theirs_root in reason and "no remote is configured" in reason

    # with a remote that lacks it too, the hint names the fetch that would help once it is pushed
    repo.cairn("remote", "add", "-d", "store", str(tmp_path / "store"))
    repo.cairn("push", expect=1)  # a remote exists, but the folder version is not on it either
    proc, out = versions.driver(expect=1)
    entry = json.loads((repo.root / ".cairn/state/merge.json").read_text())["pointers"]["data/images.cairn"]
    assert "tried remote(s) store" in entry["reason"] and "`cairn fetch -r store`" in entry["hint"]
    # ... and the user sees the reason and that hint, from git's merge and from `cairn status`
    # (they stayed in merge.json: the driver said only "settle them with cairn merge resolve")
    assert "  hint: the clone that made it must `cairn push` it; then `cairn fetch -r store`" in proc.stderr
    assert f"folder version {theirs_root} of data/images.cairn is not in the cache" in proc.stderr


def test_unreadable_merge_state_is_refused_clearly(versions, assert_error):
    state = versions.repo.root / ".cairn/state/merge.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"version": 7, "pointers": {}}')
    proc = versions.repo.cairn("status", expect=None)
    assert_error(proc, MergeError, "the merge state merge.json in .cairn/state cannot be read", "delete that file")


@pytest.fixture
def branched(repo):
    return make_branched(repo)


def make_branched(repo, **ours_extra: bytes):
    """main and `theirs` both changed b.png (differently), main added d.png, theirs e.png; the
    merge of theirs into main has stopped on the conflict."""
    repo.write({"data/images/a.png": b"a", "data/images/b.png": b"b", "data/images/c.png": b"c"})
    repo.cairn("add", "data/images")
    repo.cairn("merge", "setup")
    repo.commit("v1")
    repo.git("checkout", "-q", "-b", "theirs")
    repo.write({"data/images/b.png": b"b theirs", "data/images/e.png": b"e"})
    repo.cairn("add", "data/images")
    repo.commit("theirs")
    repo.git("checkout", "-q", "main")
    repo.cairn("checkout")
    repo.write({"data/images/b.png": b"b ours", "data/images/d.png": b"d"})
    repo.write({f"data/images/{name}": data for name, data in ours_extra.items()})
    repo.cairn("add", "data/images")
    repo.commit("ours")
    assert git_merge(repo, "theirs").returncode == 1
    return repo


def test_gc_keeps_what_an_unfinished_merge_needs(branched):
    repo = branched
    state = json.loads((repo.root / ".cairn/state/merge.json").read_text())
    clean = state["pointers"]["data/images.cairn"]["clean"]["oid"]
    theirs = state["pointers"]["data/images.cairn"]["theirs"]["oid"]
    repo.git("branch", "-D", "theirs")  # theirs is now referenced by MERGE_HEAD and the merge state only
    repo.cairn("gc", "--yes")
    assert repo.object_path(clean).exists() and repo.object_path(theirs).exists()
    assert repo.object_path(blake3(b"b theirs").hexdigest()).exists()
    repo.cairn("merge", "resolve", "data/images", "--theirs")
    repo.git("commit", "-q", "--no-edit")
    repo.cairn("checkout")
    assert (repo.root / "data/images/b.png").read_bytes() == b"b theirs"
    assert (repo.root / "data/images/d.png").read_bytes() == b"d"


def test_both_never_overwrites_a_file_of_the_side_by_side_name(repo):
    repo = make_branched(repo, **{"b~theirs.png": b"a file that was already there"})
    repo.cairn("merge", "resolve", "data/images/b.png", "--both")
    repo.git("commit", "-q", "--no-edit")
    repo.cairn("checkout")
    folder = repo.root / "data/images"
    assert (folder / "b~ours.png").read_bytes() == b"b ours"
    assert (folder / "b~theirs.png").read_bytes() == b"a file that was already there"
    assert (folder / "b~theirs-2.png").read_bytes() == b"b theirs"
    assert not (folder / "b.png").exists()


def _kill_at_random(start, seed: int) -> None:
    proc = start()
    time.sleep(random.Random(seed).uniform(0.0, 0.5))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_9_during_a_resolve_leaves_a_whole_pointer_and_a_rerun_finishes(branched, start_cairn):
    repo = branched
    pointer = repo.root / "data/images.cairn"
    before = pointer.read_text()
    for seed in range(3):
        _kill_at_random(lambda: start_cairn("merge", "resolve", "data/images", "--both", cwd=repo.root), seed)
        text = pointer.read_text()
        assert text == before or "files: 6\n" in text  # ours, or the whole merged pointer
        state = repo.root / ".cairn/state/merge.json"
        assert not state.exists() or json.loads(state.read_text())["version"] == 1
        repo.assert_cache_sound()
        if text != before:
            break
    if (repo.root / ".cairn/state/merge.json").exists():
        repo.cairn("merge", "resolve", "data/images", "--both")
    assert "files: 6\n" in pointer.read_text()
    assert not [p for p in repo.root.rglob("*.tmp")]  # no temp file left beside the pointer


def test_kill_9_during_the_driver_leaves_ours_or_the_merge(versions, start_cairn):
    repo = versions.repo
    names = []
    for name in ("base", "ours", "theirs"):
        f = repo.root / f".merge_file_{name}"
        f.write_text(getattr(versions, name))
        names.append(f.name)
    for seed in range(3):
        (repo.root / ".merge_file_ours").write_text(versions.ours)
        _kill_at_random(lambda: start_cairn("merge", "driver", *names, "data/images.cairn", cwd=repo.root), seed)
        text = (repo.root / ".merge_file_ours").read_text()
        assert text == versions.ours or "files: 5\n" in text
        repo.assert_cache_sound()
    assert not [p for p in repo.root.glob(".*.tmp")]  # a killed write leaves its temp file in .cairn/tmp


def test_a_file_pointer_changed_on_both_sides_is_settled_whole(repo, assert_error):
    repo.write({"model.bin": b"v1"})
    repo.cairn("add", "model.bin")
    repo.cairn("merge", "setup")
    repo.commit("v1")
    repo.git("checkout", "-q", "-b", "theirs")
    repo.write({"model.bin": b"v2 theirs"})
    repo.cairn("add", "model.bin")
    repo.commit("theirs")
    repo.git("checkout", "-q", "main")
    repo.write({"model.bin": b"v2 ours!"})
    repo.cairn("add", "model.bin")
    repo.commit("ours")
    proc = git_merge(repo, "theirs")
    assert proc.returncode == 1 and "(the whole pointer)" in proc.stderr

    [row] = repo.json("status")["conflicts"]
    assert (row["path"], row["kind"]) == ("model.bin", "both-modified")
    assert (row["ours"]["size"], row["theirs"]["size"]) == (8, 9)
    proc = repo.cairn("merge", "resolve", "model.bin", "--both", expect=None)
    assert_error(proc, MergeError, "model.bin cannot be kept both ways", "--ours` or `--theirs`")

    repo.cairn("merge", "resolve", "model.bin.cairn", "--theirs")
    repo.git("commit", "-q", "--no-edit")
    repo.cairn("checkout")
    assert (repo.root / "model.bin").read_bytes() == b"v2 theirs"
    assert repo.json("status")["changed"] is False
