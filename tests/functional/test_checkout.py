"""`cairn checkout` after `git checkout`, its refusals (uncached changes, missing or corrupt
objects) and the post-checkout hook."""

from __future__ import annotations

import os
import shutil
import stat

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError, ObjectMissingError, PathError, WouldLoseDataError


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def snapshot_files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def two_versions(repo, make_dataset):
    """data/ at v1 (tag) and v2 (main): v2 adds, modifies and deletes files and folders."""
    make_dataset(repo.root / "data", count=12, depth=2)
    repo.write({"model.bin": b"model v1"})
    repo.cairn("add", "data", "model.bin")
    repo.commit("v1")
    repo.git("tag", "v1")
    v1 = snapshot_files(repo.root / "data")
    repo.write({"data/s0/s0/f00000.bin": b"changed", "data/new/deep/n.bin": b"new"})
    shutil.rmtree(repo.root / "data" / "s2")
    repo.write({"model.bin": b"model v2 is longer"})
    repo.cairn("add", "data", "model.bin")
    repo.commit("v2")
    v2 = snapshot_files(repo.root / "data")
    return v1, v2


def test_post_merge_hook_updates_data_after_a_merge_or_pull(repo, two_versions):
    """`git pull` and `git merge` run post-merge, not post-checkout: without it the files stayed
    at the old version, and a later `cairn add` recorded them over the merged change."""
    v1, v2 = two_versions
    repo.git("checkout", "-q", "-b", "behind", "v1")
    repo.cairn("checkout")
    assert snapshot_files(repo.root / "data") == v1
    proc = repo.cairn("install-hooks")
    assert f"Installed {repo.root / '.git' / 'hooks' / 'post-merge'}" in proc.stdout

    repo.git("merge", "-q", "main", venv_first=True)  # a fast-forward, as most pulls are

    assert snapshot_files(repo.root / "data") == v2
    assert (repo.root / "model.bin").read_bytes() == b"model v2 is longer"
    assert "Data is up to date." in repo.cairn("status").stdout

    # the merged version's files are not in the cache (a teammate's push): the merge goes
    # through and the hook says what to run
    repo.git("reset", "-q", "--hard", "v1")
    repo.cairn("checkout")
    repo.object_path(b3(b"model v2 is longer")).unlink()
    res = repo.git("merge", "main", venv_first=True, full=True)
    assert res.returncode == 0
    assert "cairn pull" in res.stderr
    assert repo.git("rev-parse", "HEAD").strip() == repo.git("rev-parse", "main").strip()


def test_checkout_after_git_checkout_restores_each_version(repo, two_versions):
    v1, v2 = two_versions

    repo.git("checkout", "-q", "v1")
    assert "data: modified" in repo.cairn("status").stdout
    proc = repo.cairn("checkout")

    assert snapshot_files(repo.root / "data") == v1
    assert not (repo.root / "data" / "new").exists(), "folders the version lacks are removed"
    assert (repo.root / "model.bin").read_bytes() == b"model v1"
    assert "data: " in proc.stdout and " written, " in proc.stdout and " removed (copy)" in proc.stdout
    assert repo.cairn("status", "-q").stdout == ""

    repo.git("checkout", "-q", "main")
    out = repo.json("checkout")
    assert snapshot_files(repo.root / "data") == v2
    assert (repo.root / "model.bin").read_bytes() == b"model v2 is longer"
    by_path = {r["path"]: r for r in out}
    assert sorted(by_path["data"]["written"]) == ["data/new/deep/n.bin", "data/s0/s0/f00000.bin"]
    assert by_path["model.bin"]["written"] == ["model.bin"]
    repo.cairn("status", "-q")
    assert repo.cairn("checkout").stdout == "Workspace already matches the pointers.\n"


def test_checkout_restores_deleted_and_changed_files_and_removes_extra_ones(repo, two_versions):
    _, v2 = two_versions
    (repo.root / "data" / "s0" / "s0" / "f00000.bin").unlink()
    shutil.rmtree(repo.root / "data" / "new")
    (repo.root / "model.bin").unlink()

    repo.cairn("checkout", "data")  # a target limits the work to that path
    assert snapshot_files(repo.root / "data") == v2
    assert not (repo.root / "model.bin").exists()

    repo.cairn("checkout", "model.bin.cairn")
    assert (repo.root / "model.bin").read_bytes() == b"model v2 is longer"


def test_checkout_replaces_a_file_with_the_folder_and_back(repo, two_versions):
    _, v2 = two_versions
    shutil.rmtree(repo.root / "data")
    (repo.root / "data").write_bytes(b"not a folder")
    repo.cairn("checkout", expect=WouldLoseDataError.exit_code)  # the file is not in the cache
    repo.cairn("checkout", "--force")
    assert snapshot_files(repo.root / "data") == v2


def test_checkout_restores_executable_bits(repo):
    repo.write({"tools/run.sh": b"#!/bin/sh\necho run\n"})
    (repo.root / "tools" / "run.sh").chmod(0o755)
    repo.cairn("add", "tools")
    (repo.root / "tools" / "run.sh").unlink()

    repo.cairn("checkout")

    assert stat.S_IMODE((repo.root / "tools" / "run.sh").stat().st_mode) & 0o100
    repo.cairn("status", "-q")


def test_checkout_restores_empty_folders(repo):
    repo.write({"data/full/x.bin": b"x"})
    (repo.root / "data" / "empty").mkdir()
    (repo.root / "data" / "full" / "empty-too").mkdir()
    repo.cairn("add", "data")
    (repo.root / "data" / "empty").rmdir()
    repo.cairn("status", "-q", expect=1)
    proc = repo.cairn("checkout")
    assert proc.stdout == "data: 0 written, 0 removed, 1 empty folder(s) created or removed (copy)\n"
    assert (repo.root / "data" / "empty").is_dir()
    shutil.rmtree(repo.root / "data")

    repo.cairn("checkout")

    assert (repo.root / "data" / "empty").is_dir()
    assert (repo.root / "data" / "full" / "empty-too").is_dir()
    repo.cairn("status", "-q")


def test_checkout_removes_an_empty_folder_the_version_lacks(repo):
    repo.write({"data/x.bin": b"x"})
    repo.cairn("add", "data")
    (repo.root / "data" / "stray" / "deeper").mkdir(parents=True)
    assert "data: modified - only empty folders differ\n" in repo.cairn("status").stdout

    repo.cairn("checkout")

    assert not (repo.root / "data" / "stray").exists()
    repo.cairn("status", "-q")


def test_checkout_refuses_to_destroy_uncached_changes(repo, two_versions, assert_error):
    v1, _ = two_versions
    repo.git("checkout", "-q", "v1")
    edited = repo.root / "data" / "s0" / "s0" / "f00000.bin"
    edited.write_bytes(b"precious, never added")
    before = snapshot_files(repo.root / "data")

    proc = repo.cairn("checkout", expect=None)

    assert_error(
        proc,
        WouldLoseDataError,
        "checkout would overwrite or delete 1 file(s) whose content is not in the cache: data/s0/s0/f00000.bin",
        "keep the changes with `cairn add data`, or discard them with `cairn checkout --force`",
    )
    # Nothing at all was touched, not even the other paths.
    assert snapshot_files(repo.root / "data") == before
    assert (repo.root / "model.bin").read_bytes() == b"model v2 is longer"

    repo.cairn("checkout", "--force")
    assert snapshot_files(repo.root / "data") == v1


def test_checkout_refuses_to_delete_a_new_uncached_file(repo, two_versions, assert_error):
    repo.write({"data/s0/mine.bin": b"only here"})

    proc = repo.cairn("checkout", expect=None)

    assert_error(proc, WouldLoseDataError, "1 file(s) whose content is not in the cache: data/s0/mine.bin")
    assert (repo.root / "data" / "s0" / "mine.bin").read_bytes() == b"only here"


def test_cached_changes_are_replaced_without_force(repo, two_versions):
    v1, _ = two_versions
    # The workspace holds v2 (all in the cache): switching to v1 needs no --force.
    repo.git("checkout", "-q", "v1")
    repo.cairn("checkout")
    assert snapshot_files(repo.root / "data") == v1


def test_missing_cache_object_names_cairn_pull(repo, two_versions, assert_error):
    _, v2 = two_versions
    lost = b3(v2["new/deep/n.bin"])
    repo.object_path(lost).unlink()
    shutil.rmtree(repo.root / "data" / "new")
    (repo.root / "data" / "s0" / "s0" / "f00000.bin").unlink()

    proc = repo.cairn("checkout", expect=None)

    assert_error(proc, ObjectMissingError, "1 object(s) needed for data are not in the cache", "run `cairn pull`")
    # the plan failed before anything was written
    assert not (repo.root / "data" / "s0" / "s0" / "f00000.bin").exists()


def test_missing_tree_object_names_cairn_pull(repo, two_versions, assert_error):
    root_tree = repo.pointer("data")["oid"]
    repo.object_path(root_tree).unlink()
    shutil.rmtree(repo.root / "data")

    proc = repo.cairn("checkout", expect=None)

    assert_error(
        proc,
        ObjectMissingError,
        f"the version of data in its pointer is not in the cache (tree {root_tree[:12]} missing)",
        "run `cairn pull`",
    )


@pytest.mark.parametrize("kind", ["copy", "hardlink", "symlink"])
def test_corrupt_object_is_never_checked_out(repo, two_versions, assert_error, kind):
    repo.cairn("config", "cache.type", kind)
    _, v2 = two_versions
    victim = repo.root / "data" / "new" / "deep" / "n.bin"
    oid = b3(v2["new/deep/n.bin"])
    victim.unlink()
    repo.corrupt_object(oid)

    proc = repo.cairn("checkout", expect=None)

    assert_error(
        proc,
        CorruptObjectError,
        f"cache object {oid} is corrupt (its content does not match its id); it was not checked out",
        "run `cairn fsck --delete-corrupt`, then `cairn pull`",
    )
    assert not victim.exists() and not victim.is_symlink()
    # The documented way out: delete the corrupt object, then restore it (here, from the data).
    assert f"corrupt: {oid} (deleted)" in repo.cairn("fsck", "--delete-corrupt", expect=1).stdout
    assert not repo.object_path(oid).exists()


def test_checkout_rejects_untracked_targets(repo, two_versions, assert_error):
    proc = repo.cairn("checkout", "nowhere", expect=None)
    assert_error(proc, PathError, "nowhere is not tracked by cairn", "cairn add nowhere")


def test_post_checkout_hook_updates_data_on_git_checkout(repo, two_versions, assert_error):
    v1, v2 = two_versions

    proc = repo.cairn("install-hooks")

    hook = repo.root / ".git" / "hooks" / "post-checkout"
    assert f"Installed {hook}" in proc.stdout
    # the merge driver came too, and .gitattributes must be committed: say so
    assert "Commit it: git add .gitattributes" in proc.stdout
    assert "merge=cairn" in (repo.root / ".gitattributes").read_text()
    assert os.access(hook, os.X_OK)
    # `git checkout` runs the hook, and the hook finds `cairn` on PATH.
    repo.git("checkout", "-q", "v1", venv_first=True)
    assert snapshot_files(repo.root / "data") == v1
    repo.git("checkout", "-q", "main", venv_first=True)
    assert snapshot_files(repo.root / "data") == v2
    # File checkouts ("$3" = 0) do not run it.
    repo.git("checkout", "v1", "--", "model.bin.cairn", venv_first=True)
    assert (repo.root / "model.bin").read_bytes() == b"model v2 is longer"

    # Without cairn on PATH the hook says so and does not fail the git command.
    repo.git("checkout", "-q", "main", "--", "model.bin.cairn")
    res = repo.git("checkout", "v1", full=True)
    assert "cairn post-checkout: cairn is not on PATH; run 'cairn checkout' yourself" in res.stderr
    repo.git("checkout", "-q", "main")

    # Re-installing is fine; someone else's hook is not overwritten without --force.
    repo.cairn("install-hooks")
    hook.write_text("#!/bin/sh\necho mine\n")
    proc = repo.cairn("install-hooks", expect=None)
    assert_error(proc, PathError, f"{hook} already exists and was not written by cairn", "overwrite with --force")
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    repo.cairn("install-hooks", "--force")
    assert "cairn checkout" in hook.read_text()
