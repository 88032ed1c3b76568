"""add: the ids it records are the documented ones, whatever the file names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import PathError
from cairn.index import pointer as ptr
from cairn.objects.tree import Tree
from cairn.repo import Repo


def independent_id(path: Path, trees: dict[str, bytes]) -> tuple[str, int]:
    """(id, size) per the format docs, computed with json + blake3 only."""
    if path.is_file():
        data = path.read_bytes()
        return blake3(data).hexdigest(), len(data)
    entries, total = [], 0
    for child in path.iterdir():
        oid, size = independent_id(child, trees)
        kind = "file" if child.is_file() else "tree"
        exe = kind == "file" and bool(child.stat().st_mode & 0o100)
        entries.append({"exec": exe, "kind": kind, "name": child.name, "oid": oid, "size": size})
        total += size
    entries.sort(key=lambda e: e["name"])
    data = json.dumps({"entries": entries, "version": 1}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    oid = blake3(data.encode()).hexdigest()
    trees[oid] = data.encode()
    return oid, total


TRICKY = [
    'quote"name',
    "back\\slash",
    "tab\there",
    "new\nline",
    "ctrl\x01\x1f",
    "del\x7f",
    "é-accent",
    "日本語",
    "emoji-😀",
    "line\u2028sep",
    " leading space",
    "trailing space ",
    "UPPER",
    "lower",
    "-dash",
    "#hash",
    "a.b.c",
]


def test_tree_ids_are_canonical_for_tricky_names(repo: Repo, make_files) -> None:
    files = {f"data/{name}": name for name in TRICKY}
    files |= {f"data/dir {i}/{name}": f"{i}{name}" for i, name in enumerate(TRICKY[:5])}
    make_files(repo.root, files)
    os.chmod(repo.root / "data" / "UPPER", 0o755)
    trees: dict[str, bytes] = {}
    expected_oid, expected_size = independent_id(repo.root / "data", trees)

    [result] = repo.add([str(repo.root / "data")])
    assert (result.oid, result.size, result.files) == (expected_oid, expected_size, len(files))
    for oid, data in trees.items():
        stored = repo.store.read_verified(oid)
        assert stored == data
        assert Tree.from_bytes(stored).to_bytes() == stored  # canonical: re-encoding changes nothing
    pointer = ptr.load(repo.root / "data.cairn")
    assert (pointer.oid, pointer.kind, pointer.files) == (expected_oid, "tree", len(files))


def test_re_add_is_stable(repo: Repo, make_files) -> None:
    make_files(repo.root, {f"data/{name}": name for name in TRICKY})
    [first] = repo.add([str(repo.root / "data")])
    [second] = repo.add([str(repo.root / "data")])
    assert second.oid == first.oid
    assert not second.changed


def test_a_name_that_is_not_utf8_is_refused_clearly(repo: Repo, make_files) -> None:
    make_files(repo.root, {"data/ok": "ok"})
    with open(os.path.join(os.fsencode(repo.root / "data"), b"\xff\xfe.bin"), "wb") as f:
        f.write(b"x")
    with pytest.raises(PathError, match="not valid UTF-8"):
        repo.add([str(repo.root / "data")])
    assert not (repo.root / "data.cairn").exists()
