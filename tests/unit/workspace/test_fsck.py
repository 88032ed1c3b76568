"""fsck: re-hash every cache object; report the corrupt ones and the referenced ones missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.index import pointer as ptr
from cairn.objects.tree import TREE, Tree
from cairn.repo import Repo


def add(repo: Repo, rel: str) -> str:
    [result] = repo.add([str(repo.root / rel)])
    return result.oid


def damage(repo: Repo, oid: str, data: bytes = b"bit rot") -> None:
    loc = repo.store.packs.locate(oid)
    if loc is not None:  # a small file's object is packed: its bytes damaged in the pack
        pid, off, size = loc
        pack = repo.store.packs.pack_path(pid)
        os.chmod(pack, 0o644)
        with open(pack, "r+b") as f:
            f.seek(off)
            flipped = bytes(b ^ 0xFF for b in f.read(size))
            f.seek(off)
            f.write(flipped)
        return
    path = repo.store.path(oid)
    os.chmod(path, 0o644)
    Path(path).write_bytes(data)
    os.chmod(path, 0o444)


@pytest.fixture
def tracked(repo: Repo, make_files) -> dict[str, str]:
    make_files(repo.root, {"data/a": "a", "data/sub/b": "b", "model.bin": "weights"})
    root = add(repo, "data")
    sub = Tree.from_bytes(repo.store.read(root)).get("sub")
    assert sub is not None
    return {"root": root, "sub": sub.oid, "model": add(repo, "model.bin"), "a": blake3(b"a").hexdigest()}


def test_clean_cache(repo: Repo, tracked: dict[str, str]) -> None:
    report = repo.fsck()
    assert report.ok
    assert report.checked == 5  # 2 trees, 3 files
    assert report.to_dict() == {"checked": 5, "corrupt": [], "missing": [], "unreadable": [], "ok": True}


def test_empty_cache(repo: Repo) -> None:
    report = repo.fsck()
    assert report.ok and report.checked == 0


def test_corrupt_file_object(repo: Repo, tracked: dict[str, str]) -> None:
    damage(repo, tracked["a"])
    damage(repo, tracked["model"], b"")
    report = repo.fsck()
    assert report.corrupt == sorted([tracked["a"], tracked["model"]])
    assert report.missing == []
    assert not report.ok


def test_missing_objects(repo: Repo, tracked: dict[str, str]) -> None:
    repo.store.drop_packed({tracked["a"], tracked["model"]})  # small files are packed
    report = repo.fsck()
    assert report.missing == sorted([tracked["a"], tracked["model"]])
    assert report.corrupt == []
    assert report.checked == 3


def test_missing_tree(repo: Repo, tracked: dict[str, str]) -> None:
    repo.store.remove(tracked["sub"])
    report = repo.fsck()
    assert report.missing == [tracked["sub"]]  # what lies below it cannot be known


def test_corrupt_tree_is_reported_not_raised(repo: Repo, tracked: dict[str, str]) -> None:
    damage(repo, tracked["sub"], b'{"entries": [')
    report = repo.fsck()
    assert report.corrupt == [tracked["sub"]]
    assert not report.ok


def test_pointer_to_an_object_that_is_not_a_tree(repo: Repo, tracked: dict[str, str]) -> None:
    # a hand-edited pointer says "tree" for a file's object: fsck reports it instead of crashing
    ptr.save(repo.root / "model.bin.cairn", ptr.Pointer("model.bin", TREE, tracked["model"], 7, 1))
    report = repo.fsck()
    assert report.corrupt == [tracked["model"]]


def test_delete_corrupt(repo: Repo, tracked: dict[str, str]) -> None:
    damage(repo, tracked["a"])
    report = repo.fsck(delete_corrupt=True)
    assert report.corrupt == [tracked["a"]]
    assert not repo.store.exists(tracked["a"])
    after = repo.fsck()
    # the trees holding it are gone too (so a re-add can restore the file); what is missing now
    # is the tracked folder's version as a whole
    assert after.corrupt == [] and after.missing == [tracked["root"]]
    assert not repo.store.exists(tracked["root"])


def test_unreferenced_objects_are_checked_too(repo: Repo, tracked: dict[str, str]) -> None:
    stray = repo.store.add_bytes(b"not referenced by anything")
    damage(repo, stray)
    report = repo.fsck()
    assert report.corrupt == [stray]
    assert report.checked == 6
