"""`cairn status`: what changed in the workspace against each pointer."""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.errors import ObjectMissingError
from cairn.objects.tree import FILE, diff_trees
from cairn.workspace.context import Workspace, data_rel


@dataclass
class PathStatus:
    path: str
    pointer: str
    state: str  # unchanged | modified | deleted (gone from the workspace)
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def changed(self) -> bool:
        return self.state != "unchanged"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "pointer": self.pointer,
            "state": self.state,
            "counts": {"added": len(self.added), "modified": len(self.modified), "deleted": len(self.deleted)},
            "added": self.added,
            "modified": self.modified,
            "deleted": self.deleted,
            "note": self.note,
        }


def status_of(ws: Workspace, pointer_rel: str) -> PathStatus:
    p = ws.load_pointer(pointer_rel)
    rel = data_rel(pointer_rel, p)
    links = ws.links(p.follow_symlinks)
    snap = ws.walk(rel, links)
    if snap is not None:
        ws.stats.update(snap.records, snap.keep, snap.seals)
    if snap is None:
        return PathStatus(rel, pointer_rel, "deleted", note="missing from the workspace")
    if snap.oid == p.oid and snap.kind == p.kind and snap.exec == p.exec:
        return PathStatus(rel, pointer_rel, "unchanged")
    result = PathStatus(rel, pointer_rel, "modified")
    if p.kind == FILE or snap.kind == FILE:
        if p.kind == snap.kind:
            result.modified.append(rel)
        else:
            result.note = f"was a {p.kind}, now a {snap.kind}"
        return result
    try:
        for ch in diff_trees(p.oid, snap.oid, ws.tree_loader(snap.trees), rel + "/"):
            getattr(result, ch.status).append(ch.path)
    except ObjectMissingError:
        result.note = "the recorded version is not in the cache; `cairn pull` for file-level detail"
        return result
    if not (result.added or result.modified or result.deleted):
        result.note = "only empty folders differ"  # diff_trees reports files only
    return result


def status(ws: Workspace, pointers: list[str]) -> list[PathStatus]:
    return [status_of(ws, p) for p in pointers]
