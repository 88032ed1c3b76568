"""fetch: bring what the roots reach into the cache.

Every fetched object is verified against its id before it enters the cache; a corrupt one is
named and never stored. An interrupted fetch leaves only complete objects, so rerunning
finishes the job."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from cairn.errors import CorruptObjectError, ObjectMissingError
from cairn.objects import pack
from cairn.objects.store import ObjectStore
from cairn.objects.tree import TREE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.closure import Root
from cairn.remotes.pool import no_cyclic_gc, run_pool
from cairn.remotes.remote import Remote, pieces
from cairn.remotes.result import TransferResult
from cairn.remotes.staging import Staging
from cairn.workspace.context import Workspace

# -- fetch --------------------------------------------------------------------------------------


def fetch(
    ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress = NULL, staging: Staging | None = None
) -> TransferResult:
    """Bring every object reachable from `roots` into the cache. Trees are fetched level by
    level (a tree must be read before its children are known). Objects found damaged or gone
    on the remote are forgotten by the local index, so a push from this clone sends them.
    With `staging`, the files of folders a pull will place are written as objects arrive."""
    with no_cyclic_gc():
        return _fetch(ws, remote, roots, progress, staging)


def _fetch(ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress, staging: Staging | None):
    remote.refresh()
    result = TransferResult()
    frontier = list(roots)
    seen: set[str] = set()
    lost: list[str] = []
    intact: list[str] = []
    lists: list = []  # chunk lists of files the remote holds as chunks, written once their chunks are here
    task = progress.task(f"fetch from {remote.name}", None, unit="files", total_bytes=0)
    landing = _Landing(ws.store)
    try:
        while frontier:
            # once per oid: the same folder version is often referenced many times
            level = list({o: (k, o) for k, o in frontier if o not in seen}.values())
            seen.update(o for _, o in level)
            need = _absent(ws.store, sorted({o for _, o in level}))
            result.skipped += len(level) - len(need)
            frontier = []
            need = _chunked(ws, remote, level, need, lists, frontier, landing.chunks)
            _fetch_objects(ws, remote, need, result, lost, intact, task, staging, landing)
            for kind, oid in level:
                if kind == TREE and ws.store.exists(oid) and oid not in result.corrupt:
                    tree = Tree.from_bytes(ws.store.read(oid), oid)
                    frontier.extend((e.kind, e.oid) for e in tree.entries if e.oid not in seen)
                    if staging is not None:
                        staging.expand(oid, tree)
        landing.packs.close()  # sealed before any list that names its chunks is written
        if landing.packs.sealed:
            ws.store.packs.update_midx()
        for cl in lists:
            if all(ws.store.has_object(c) for c in cl.ids()):
                ws.store.write_list(cl)
                result.transferred += 1
    finally:
        landing.packs.close()  # what arrived is complete and verified: kept for the rerun
        task.close()
        remote.index.mark_damaged(result.corrupt)
        remote.index.mark_good(intact)
        remote.index.forget(lost)
    return result


class _Landing:
    """Where fetched objects go: chunks into new local packs (one sequential file instead of
    a file each; objects/localpacks.py), everything else loose as before."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.chunks: set[str] = set()
        self.packs = store.packs.writer()

    def add_absent(self, data: bytes | memoryview, oid: str) -> None:
        if oid in self.chunks:
            self.packs.add(oid, data)
        else:
            self.store.add_absent(data, oid)


def _chunked(
    ws: Workspace, remote: Remote, level: list, need: list[str], lists: list, frontier: list, chunk_ids: set[str]
) -> list[str]:
    """Files the remote holds as chunks: their lists are read now (kept in memory, written to
    the cache only once every chunk arrived: a list in the cache promises the whole file) and
    their missing chunks join the next level. Returns the rest of `need`."""
    candidates = {o for k, o in level if k != TREE and o in remote.chunk_lists}
    if not candidates:
        return need
    held = remote.index.locate([o for o in need if o in candidates])  # held whole as well: fetched so
    rest = []
    for oid in need:
        if oid not in candidates or oid in held:
            rest.append(oid)
            continue
        cl = remote.read_list(oid)
        lists.append(cl)
        chunk_ids.update(cl.ids())
        frontier.extend(("file", c) for c in sorted(cl.ids()))
    return rest


def _absent(store: ObjectStore, oids: list[str]) -> list[str]:
    """The objects of `oids` the cache lacks. Many at once: a fan-out folder of the cache is
    listed (one call) rather than each of its candidates stat-ed, unless it holds many more
    objects than candidates."""
    if len(oids) < 256:
        return [o for o in oids if not store.exists(o)]
    by_fan: dict[str, list[str]] = defaultdict(list)
    for o in oids:
        by_fan[o[:2]].append(o)
    present: set[str] = set()
    for fan, members in by_fan.items():
        try:
            names = os.listdir(store.objects / fan)
        except FileNotFoundError:
            continue
        if len(names) > 8 * len(members):
            present.update(o for o in members if store.exists(o))
        else:
            present.update(fan + n for n in names)
    return [o for o in oids if o not in present and not store.packs.has(o)]


def _fetch_objects(
    ws: Workspace,
    remote: Remote,
    oids: list[str],
    result: TransferResult,
    lost: list[str],
    intact: list[str],
    task,
    staging: Staging | None,
    landing: _Landing,
) -> None:
    if not oids:
        return
    where = remote.index.locate(oids)
    task.add_total(len(oids), nbytes=sum(size for _, _, size in where.values()))
    result.missing.extend(o for o in oids if o not in where)
    by_pack: dict[str, list[pack.IndexRow]] = defaultdict(list)
    work: list[tuple] = []
    for oid, (pack_id, off, size) in where.items():
        if pack_id is None:
            work.append(("loose", oid))
        else:
            by_pack[pack_id].append((oid, off, size))
    # range requests of a few MiB: a pack never sits in memory whole, and requests stay few
    work += [("piece", pack_id, piece) for pack_id, rows in by_pack.items() for piece in pieces(rows)]

    def get(w: tuple):
        if w[0] == "loose":
            return 1, remote.fetch_loose(ws.store, w[1])
        return len(w[2]), remote.fetch_piece(landing.add_absent, w[1], w[2], staging.write if staging else None)

    failed: set[str] = set()

    def done(res) -> None:
        n, (nbytes, bad, gone) = res
        result.transferred += n - len(bad) - len(gone)
        result.bytes += nbytes
        result.corrupt.extend(bad)
        result.missing.extend(gone)
        lost.extend(gone)
        failed.update(bad, gone)
        task.advance(n, nbytes=nbytes)

    run_pool(remote.jobs, work, get, done)
    intact.extend(o for o in where if o not in failed)


def _shown(oids: list[str]) -> str:
    return ", ".join(oids[:5]) + (f" and {len(oids) - 5} more" if len(oids) > 5 else "")


def raise_for_failures(remote: Remote, result: TransferResult) -> None:
    """Fail a fetch that could not get everything: corrupt objects, then missing ones (a pull
    must not go on to a checkout that can only report them as absent from the cache)."""
    if result.corrupt:
        raise CorruptObjectError(
            f"{len(result.corrupt)} object(s) on remote {remote.name!r} are corrupt and were not used: "
            f"{_shown(result.corrupt)}",
            "in a clone that has good copies, run `cairn push --verify`: it checks the remote's copies and "
            "replaces the damaged ones",
        )
    if result.missing:
        raise ObjectMissingError(
            f"{len(result.missing)} object(s) are not on remote {remote.name!r} (lost there, or never pushed): "
            f"{_shown(result.missing)}",
            "push them from a clone that has them: `cairn push` sends what was never pushed, `cairn push --verify` "
            "also what the remote lost; `cairn status --remote` shows what is where",
            result.missing,
        )
