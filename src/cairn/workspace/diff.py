"""`cairn diff`: file-level changes of tracked data between two versions.

A version is a mapping of tracked path -> (kind, oid) read from pointer files at a git
revision, or from the workspace data itself. Identical subtrees are skipped, not walked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cairn.errors import ObjectMissingError
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, Entry, diff_trees
from cairn.workspace.context import Workspace, data_rel


@dataclass(frozen=True, slots=True)
class Version:
    kind: str
    oid: str
    size: int
    exec: bool = False


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    status: str  # added | deleted | modified
    old: str | None
    new: str | None
    size: int | None  # of the new file, or of the old one when deleted

    def to_dict(self) -> dict:
        return {"path": self.path, "status": self.status, "old": self.old, "new": self.new, "size": self.size}


def versions_from_pointers(files: Iterable[tuple[str, bytes]], where: str) -> dict[str, Version]:
    out = {}
    for pointer_rel, data in files:
        p = ptr.parse(data, f"{pointer_rel} at {where}")
        out[data_rel(pointer_rel, p)] = Version(p.kind, p.oid, p.size, p.exec)
    return out


def versions_in_workspace(ws: Workspace, pointers: list[str]) -> tuple[dict[str, Version], dict[str, bytes]]:
    out, trees = {}, {}
    for pointer_rel in pointers:
        p = ws.load_pointer(pointer_rel)
        rel = data_rel(pointer_rel, p)
        links = ws.links(p.follow_symlinks)
        snap = ws.walk(rel, links)
        if snap is None:
            continue  # deleted in the workspace
        ws.stats.update(snap.records, snap.keep, snap.seals)
        out[rel] = Version(snap.kind, snap.oid, snap.size, snap.exec)
        trees.update(snap.trees)
    return out, trees


def diff_versions(
    ws: Workspace, old: dict[str, Version], new: dict[str, Version], trees: dict[str, bytes] | None = None
) -> list[FileChange]:
    load = ws.tree_loader(trees or {})
    changes: list[FileChange] = []
    for rel in sorted(old.keys() | new.keys()):
        a, b = old.get(rel), new.get(rel)
        if a is not None and b is not None and a == b:
            continue
        try:
            changes.extend(_diff_one(rel, a, b, load))
        except ObjectMissingError as e:
            raise ObjectMissingError(
                f"cannot list the files of {rel}: a version of it is not in the cache",
                "run `cairn fetch` (or `cairn pull`) to get the objects of both revisions",
                e.oids,
            ) from None
    return changes


def _diff_one(rel: str, a: Version | None, b: Version | None, load) -> list[FileChange]:
    a_tree = a.oid if a is not None and a.kind != FILE else None
    b_tree = b.oid if b is not None and b.kind != FILE else None
    out = [_change(ch.status, ch.path, ch.old, ch.new) for ch in diff_trees(a_tree, b_tree, load, rel + "/")]
    a_file = Entry(rel, FILE, a.oid, a.size, a.exec) if a is not None and a.kind == FILE else None
    b_file = Entry(rel, FILE, b.oid, b.size, b.exec) if b is not None and b.kind == FILE else None
    if a_file and b_file:
        out.append(_change("modified", rel, a_file, b_file))
    elif a_file:
        out.append(_change("deleted", rel, a_file, None))
    elif b_file:
        out.append(_change("added", rel, None, b_file))
    return out


def _change(status: str, path: str, old: Entry | None, new: Entry | None) -> FileChange:
    size = new.size if new is not None else old.size if old is not None else None
    return FileChange(path, status, old.oid if old else None, new.oid if new else None, size)
