"""diff: file-level changes of tracked data between git revisions and the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import NotARepoError, ObjectMissingError, PointerError, RevisionError
from cairn.index.pointer import parse
from cairn.objects.tree import Tree
from cairn.repo import Repo
from cairn.workspace.diff import FileChange


def b3(text: str) -> str:
    return blake3(text.encode()).hexdigest()


def add(repo: Repo, *rels: str) -> list[str]:
    return [r.oid for r in repo.add([str(repo.root / rel) for rel in rels])]


def summary(changes: list[FileChange]) -> set[tuple[str, str]]:
    return {(c.path, c.status) for c in changes}


@pytest.fixture
def v1(repo: Repo, make_files, commit) -> str:
    make_files(repo.root, {"data/a.csv": "a", "data/sub/b.csv": "b", "data/sub/c.csv": "c", "model.bin": "m1"})
    add(repo, "data", "model.bin")
    return commit("v1")


def test_no_changes(repo: Repo, v1: str) -> None:
    assert repo.diff() == []
    assert repo.diff("HEAD", "HEAD") == []
    assert repo.diff(v1, "main") == []


def test_workspace_against_head(repo: Repo, v1: str, make_files) -> None:
    # the data changes; nothing is re-added: the workspace side is read from the files themselves
    make_files(repo.root, {"data/a.csv": "a2", "data/sub/new.csv": "n", "model.bin": "m2"})
    os.unlink(repo.root / "data/sub/c.csv")
    changes = repo.diff()
    assert summary(changes) == {
        ("data/a.csv", "modified"),
        ("data/sub/new.csv", "added"),
        ("data/sub/c.csv", "deleted"),
        ("model.bin", "modified"),
    }
    by_path = {c.path: c for c in changes}
    assert (by_path["data/a.csv"].old, by_path["data/a.csv"].new) == (b3("a"), b3("a2"))
    assert by_path["data/sub/c.csv"].new is None and by_path["data/sub/c.csv"].size == 1
    assert by_path["data/sub/new.csv"].old is None
    assert by_path["data/sub/new.csv"].to_dict() == {
        "path": "data/sub/new.csv",
        "status": "added",
        "old": None,
        "new": b3("n"),
        "size": 1,
    }
    assert not repo.store.exists(b3("a2"))  # diff did not store anything


def test_between_revisions(repo: Repo, v1: str, make_files, commit) -> None:
    make_files(repo.root, {"data/a.csv": "a2", "extra.txt": "e"})
    add(repo, "data", "extra.txt")
    v2 = commit("v2")
    assert summary(repo.diff(v1, v2)) == {("data/a.csv", "modified"), ("extra.txt", "added")}
    assert summary(repo.diff(v2, v1)) == {("data/a.csv", "modified"), ("extra.txt", "deleted")}
    assert summary(repo.diff("HEAD~1")) == summary(repo.diff(v1, v2))  # the workspace equals v2


def test_pointer_removed_or_data_missing(repo: Repo, v1: str) -> None:
    os.unlink(repo.root / "model.bin.cairn")
    assert summary(repo.diff()) == {("model.bin", "deleted")}
    os.unlink(repo.root / "data/a.csv")
    os.unlink(repo.root / "data/sub/b.csv")
    os.unlink(repo.root / "data/sub/c.csv")
    os.rmdir(repo.root / "data/sub")
    os.rmdir(repo.root / "data")
    assert summary(repo.diff()) == {
        ("model.bin", "deleted"),
        ("data/a.csv", "deleted"),
        ("data/sub/b.csv", "deleted"),
        ("data/sub/c.csv", "deleted"),
    }


def test_newly_tracked_path(repo: Repo, v1: str, make_files) -> None:
    make_files(repo.root, {"more/x": "x", "more/y/z": "z"})
    add(repo, "more")
    assert summary(repo.diff()) == {("more/x", "added"), ("more/y/z", "added")}


def test_pointers_in_subfolders(repo: Repo, make_files, commit) -> None:
    make_files(repo.root, {"sub/dir/data/x": "x"})
    add(repo, "sub/dir/data")
    commit("nested")
    make_files(repo.root, {"sub/dir/data/x": "x2"})
    assert summary(repo.diff()) == {("sub/dir/data/x", "modified")}


def test_file_becomes_a_folder_and_back(repo: Repo, v1: str, make_files, commit) -> None:
    os.unlink(repo.root / "model.bin")
    make_files(repo.root, {"model.bin/part1": "p1", "model.bin/part2": "p2"})
    add(repo, "model.bin")
    v2 = commit("model is a folder")
    expected = {("model.bin", "deleted"), ("model.bin/part1", "added"), ("model.bin/part2", "added")}
    assert summary(repo.diff(v1, v2)) == expected
    assert summary(repo.diff(v2, v1)) == {
        ("model.bin", "added"),
        ("model.bin/part1", "deleted"),
        ("model.bin/part2", "deleted"),
    }


def test_executable_bit_only(repo: Repo, v1: str) -> None:
    os.chmod(repo.root / "data/sub/b.csv", 0o755)
    os.chmod(repo.root / "model.bin", 0o755)
    changes = repo.diff()
    assert summary(changes) == {("data/sub/b.csv", "modified"), ("model.bin", "modified")}
    assert all(c.old == c.new for c in changes)


def test_unchanged_subtrees_are_not_read(repo: Repo, v1: str, make_files, commit) -> None:
    """A diff must not need the objects of a subtree that is the same on both sides."""
    make_files(repo.root, {"data/a.csv": "a2"})
    add(repo, "data")
    v2 = commit("v2")
    sub = Tree.from_bytes(repo.store.read(add(repo, "data")[0])).get("sub")
    assert sub is not None
    repo.store.remove(sub.oid)
    assert summary(repo.diff(v1, v2)) == {("data/a.csv", "modified")}


def test_missing_objects_say_what_to_fetch(repo: Repo, v1: str, make_files) -> None:
    committed = dict(repo.git.files_with_suffix("HEAD", ".cairn"))
    repo.store.remove(parse(committed["data.cairn"], "data.cairn").oid)  # as after a fresh clone
    make_files(repo.root, {"data/a.csv": "a2"})
    with pytest.raises(ObjectMissingError) as e:
        repo.diff()
    assert e.value.message == "cannot list the files of data: a version of it is not in the cache"
    assert "cairn fetch" in (e.value.hint or "")
    assert e.value.oids == [parse(committed["data.cairn"], "data.cairn").oid]


def test_unknown_revision(repo: Repo, v1: str) -> None:
    with pytest.raises(RevisionError, match="unknown revision 'nope'"):
        repo.diff("nope")
    with pytest.raises(RevisionError):
        repo.diff("HEAD", "nope")


def test_no_commits_yet(repo: Repo) -> None:
    with pytest.raises(RevisionError) as e:
        repo.diff()
    assert "no commits yet" in (e.value.hint or "")


def test_broken_pointer_at_a_revision_names_it(repo: Repo, v1: str, make_files, commit) -> None:
    make_files(repo.root, {"bad.cairn": "version: 1\npath: [\n"})
    commit("broken pointer")
    with pytest.raises(PointerError, match=r"bad\.cairn at HEAD is not valid YAML"):
        repo.diff("HEAD", v1)


def test_without_git(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path, no_scm=True)
    try:
        with pytest.raises(NotARepoError) as e:
            repo.diff()
        assert "compares git revisions" in e.value.message
        assert "core.no_scm" in e.value.message
    finally:
        repo.close()
