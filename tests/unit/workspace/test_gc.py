"""gc: objects no workspace pointer and no commit of any branch, tag or experiment ref uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects.tree import FILE, TREE, Entry, Tree, walk_files, walk_trees
from cairn.repo import Repo
from cairn.workspace import gc as gc_op


def objects_of(repo: Repo, kind: str, oid: str) -> set[str]:
    """Every object a version consists of, read back from the cache."""
    if kind == FILE:
        return {oid}

    def load(o: str) -> Tree:
        return Tree.from_bytes(repo.store.read(o), o)

    return set(walk_trees(oid, load)) | {e.oid for _, e in walk_files(oid, load)}


def add(repo: Repo, rel: str) -> tuple[str, str]:
    [result] = repo.add([str(repo.root / rel)])
    return result.kind, result.oid


@pytest.fixture
def versions(repo: Repo, make_files, commit) -> dict[str, set[str]]:
    """v1 committed on main; v2 added and then replaced (referenced by nothing); v3 in the workspace."""
    make_files(repo.root, {"data/a.csv": "a1", "data/sub/b.csv": "b", "data/sub/c.csv": "c"})
    v1 = objects_of(repo, *add(repo, "data"))
    commit("v1")
    make_files(repo.root, {"data/a.csv": "a2", "data/sub/c.csv": "c2"})
    v2 = objects_of(repo, *add(repo, "data"))
    make_files(repo.root, {"data/a.csv": "a3", "data/sub/c.csv": "c"})
    v3 = objects_of(repo, *add(repo, "data"))
    return {"v1": v1, "v2": v2, "v3": v3}


def test_plan_removes_only_unreferenced_objects(repo: Repo, versions: dict[str, set[str]]) -> None:
    plan = repo.gc_plan()
    expected = versions["v2"] - versions["v1"] - versions["v3"]
    assert expected  # a2, c2 and the trees on their paths
    assert {blake3(b"a2").hexdigest(), blake3(b"c2").hexdigest()} <= expected
    assert set(plan.unused) == expected
    assert plan.unused == sorted(plan.unused)
    assert plan.kept == len(versions["v1"] | versions["v3"])
    assert plan.unused_bytes == sum(repo.store.size(o) for o in expected)
    assert plan.missing_trees == []
    d = plan.to_dict()
    assert d["remove"] == len(expected) and d["objects"] == plan.unused and d["keep"] == plan.kept


def test_gc_deletes_the_plan(repo: Repo, versions: dict[str, set[str]]) -> None:
    plan = repo.gc_plan()
    assert repo.gc(plan) == len(plan.unused)
    left = set(repo.store.iter_oids()) | set(repo.store.iter_packed())
    assert left == versions["v1"] | versions["v3"]
    assert repo.gc_plan().unused == []


def test_gc_replans_under_the_lock(repo: Repo, versions: dict[str, set[str]], make_files) -> None:
    stale = repo.gc_plan()
    # between the dry run and the deletion, v2 becomes the workspace version again
    make_files(repo.root, {"data/a.csv": "a2", "data/sub/c.csv": "c2"})
    add(repo, "data")
    # v2 is in use again, and v3's objects (unused now) were not in the plan the user saw
    assert repo.gc(stale) == 0
    assert versions["v1"] | versions["v2"] | versions["v3"] <= set(repo.store.iter_oids()) | set(
        repo.store.iter_packed()
    )


def test_gc_sweeps_old_temp_files(repo: Repo, versions: dict[str, set[str]]) -> None:
    old = Path(repo.store.tmp_path())
    old.write_bytes(b"left by a killed writer")
    os.utime(old, (1_000_000, 1_000_000))
    repo.gc(repo.gc_plan())
    assert not old.exists()


def test_history_of_every_branch_tag_and_experiment_is_kept(repo: Repo, make_files, commit, git) -> None:
    def version(content: str) -> set[str]:
        make_files(repo.root, {"model.bin": content})
        return objects_of(repo, *add(repo, "model.bin"))

    kept = version("main v1")
    commit("main v1")
    git("checkout", "-q", "-b", "feature")
    kept |= version("feature")
    commit("feature")
    git("checkout", "-q", "main")
    kept |= version("main v2, was only in history")
    commit("main v2")
    git("checkout", "-q", "--detach", "HEAD~1")
    kept |= version("tag only")
    commit("tagged")
    git("tag", "v-tagged")
    git("checkout", "-q", "--detach", "main~1")
    kept |= version("experiment only")
    git("update-ref", "refs/cairn/exps/ab/exp-1", commit("exp"))
    git("checkout", "-q", "main")
    git("checkout", "-q", "--", ".")
    kept |= version("workspace, uncommitted")
    dropped = version("replaced before any commit")
    kept |= version("workspace, uncommitted")  # back to the kept content

    plan = repo.gc_plan()
    assert set(plan.unused) == dropped - kept
    assert plan.kept == len(kept)


def test_broken_pointers_in_history_are_skipped(repo: Repo, make_files, commit) -> None:
    make_files(repo.root, {"old.cairn": "version: [broken\n"})
    commit("a broken pointer")
    make_files(repo.root, {"m.bin": "m"})
    add(repo, "m.bin")
    os.unlink(repo.root / "old.cairn")
    assert repo.gc_plan().unused == []


def test_missing_trees_are_reported(repo: Repo, make_files) -> None:
    make_files(repo.root, {"data/sub/x": "x", "data/y": "y"})
    _, root_oid = add(repo, "data")
    tree = Tree.from_bytes(repo.store.read(root_oid))
    sub = tree.get("sub")
    assert sub is not None and sub.kind == TREE
    repo.store.remove(sub.oid)
    plan = repo.gc_plan()
    assert plan.missing_trees == [sub.oid]


def test_a_corrupt_tree_stops_gc(repo: Repo, make_files) -> None:
    """gc cannot know what a damaged tree references, so it must not delete anything."""
    make_files(repo.root, {"data/x": "x"})
    _, root_oid = add(repo, "data")
    path = repo.store.path(root_oid)
    os.chmod(path, 0o644)
    Path(path).write_bytes(b"garbage")
    with pytest.raises(CorruptObjectError, match=root_oid):
        repo.gc_plan()


@pytest.mark.parametrize("order", ["tree-first", "file-first"])
def test_a_file_with_the_bytes_of_a_tree_does_not_hide_the_tree(repo: Repo, make_files, order: str) -> None:
    """A tracked file may hold exactly the bytes of a tree object (a copy of a cache, a fixture):
    both share one id, and the tree's children must still be kept."""
    make_files(repo.root, {"data/x.bin": "x", "data/sub/y.bin": "y"})
    _, tree_oid = add(repo, "data")
    everything = objects_of(repo, TREE, tree_oid)
    make_files(repo.root, {"copy.json": repo.store.read(tree_oid)})
    assert add(repo, "copy.json") == (FILE, tree_oid)

    roots = [(TREE, tree_oid), (FILE, tree_oid)]
    if order == "tree-first":
        roots.reverse()  # the walk pops from the end
    plan = gc_op.plan(repo.ws, roots)
    assert plan.unused == []
    keep, missing = gc_op.reachable(repo.ws, roots)
    assert keep == everything and missing == []


def test_reachable_collects_missing_and_corrupt_trees(repo: Repo) -> None:
    file_oid = repo.store.add_bytes(b"content")
    inner_oid, inner = Tree([Entry("f", FILE, file_oid, 7)]).encode()
    repo.store.add_bytes(inner, inner_oid)
    bad_oid = repo.store.add_bytes(b"not a tree")
    outer_oid, outer = Tree(
        [Entry("a", TREE, inner_oid, 7), Entry("b", TREE, inner_oid, 7), Entry("bad", TREE, bad_oid, 0)]
    ).encode()
    repo.store.add_bytes(outer, outer_oid)
    missing_oid = "f" * 64

    corrupt: list[str] = []
    keep, missing = gc_op.reachable(repo.ws, [(TREE, outer_oid), (TREE, missing_oid)], corrupt)
    assert keep == {outer_oid, inner_oid, file_oid, bad_oid, missing_oid}
    assert missing == [missing_oid]
    assert corrupt == [bad_oid]
    with pytest.raises(CorruptObjectError):
        gc_op.reachable(repo.ws, [(TREE, outer_oid)])


def test_without_git_only_the_workspace_counts(tmp_path: Path, make_files) -> None:
    repo = Repo.init(tmp_path, no_scm=True)
    try:
        make_files(tmp_path, {"m.bin": "one"})
        first = objects_of(repo, *add(repo, "m.bin"))
        make_files(tmp_path, {"m.bin": "two"})
        second = objects_of(repo, *add(repo, "m.bin"))
        assert set(repo.gc_plan().unused) == first - second
    finally:
        repo.close()
