"""`cairn fsck`: re-hash every cache object; report corrupt ones and referenced ones missing."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cairn.errors import CairnError
from cairn.workspace.context import Workspace
from cairn.workspace.gc import reachable


@dataclass
class FsckReport:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing and not self.unreadable

    def to_dict(self) -> dict:
        return {
            "checked": self.checked,
            "corrupt": self.corrupt,
            "missing": self.missing,
            "unreadable": self.unreadable,
            "ok": self.ok,
        }


def fsck(ws: Workspace, roots: Iterable[tuple[str, str]]) -> FsckReport:
    report = FsckReport()
    # files held as chunks are checked whole (their chunks rebuild their id) besides each chunk;
    # packed objects are checked one by one like loose ones (a pack without an index, left by
    # a killed writer, holds nothing anyone reads: not damage)
    oids = list(ws.store.iter_oids()) + list(ws.store.iter_packed()) + list(ws.store.iter_chunked())
    task = ws.progress.task("verifying cache", len(oids), unit="objects")

    def check(oid: str) -> tuple[str, str] | None:
        try:
            return None if ws.store.verify(oid) else ("corrupt", oid)
        except CairnError:
            return ("corrupt", oid)  # a damaged chunk list
        except FileNotFoundError:
            return None  # removed meanwhile (a concurrent gc): not damage
        except OSError:
            # unreadable is not corrupt: --delete-corrupt must never delete a good object that
            # this user merely may not read (a shared cache under a strict umask)
            return ("unreadable", oid)

    with ThreadPoolExecutor(4, thread_name_prefix="cairn-fsck") as pool:
        for bad in pool.map(check, oids, chunksize=64):
            task.advance()
            if bad is not None:
                getattr(report, bad[0]).append(bad[1])
    task.close()
    report.checked = len(oids)
    present = set(oids)
    # fsck exists to diagnose damage: an unreadable tree is reported, never raised
    unreadable: list[str] = []
    referenced, missing_trees = reachable(ws, roots, unreadable)
    report.missing = sorted(set(missing_trees) | {o for o in referenced if o not in present})
    # a pack whose index cannot be read is reported by its id (`--delete-corrupt` drops it)
    report.corrupt = sorted(set(report.corrupt) | set(unreadable) | set(ws.store.packs.damaged))
    return report


def trees_containing(ws: Workspace, roots: Iterable[tuple[str, str]], bad: set[str]) -> set[str]:
    """Trees in the cache that hold one of `bad`, directly or below. When objects are deleted
    these must go too: `add` trusts a cached tree to come with all its files, so a tree left
    behind would stop a re-add from restoring the deleted files."""
    from cairn.errors import CairnError
    from cairn.objects.tree import TREE, Tree

    memo: dict[str, bool] = {}

    def holds(oid: str) -> bool:
        if oid in memo:
            return memo[oid]
        memo[oid] = False  # guards against a (corrupt) cycle
        try:
            tree = Tree.from_bytes(ws.store.read(oid), oid)
        except CairnError:
            return False
        found = False
        for e in tree.entries:
            if e.oid in bad or (e.kind == TREE and holds(e.oid)):
                found = True
        memo[oid] = found
        return found

    return {oid for kind, oid in roots if kind == TREE and holds(oid)} | {o for o, v in memo.items() if v}
