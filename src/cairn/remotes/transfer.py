"""push / fetch / remote status / remote gc: decide what moves, then move it concurrently.

Only missing objects move. Small objects travel packed; large ones stream on their own. Every
fetched object is verified against its id before it enters the cache; a corrupt one is named and
never stored. An interrupted transfer leaves only complete objects (and at worst an orphan pack
without an index, which nothing trusts and gc removes), so rerunning finishes the job.

A push trusts the local index of the remote while the remote's generation is unchanged (nothing
was deleted there since), so a push with nothing to do reads one small key and lists nothing.
Damage done to the remote outside cairn is found by fetch (which then forgets those objects) and
repaired by `push --verify`, which downloads and checks what it would otherwise skip."""

from __future__ import annotations

import gc
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from blake3 import blake3

from cairn.errors import CorruptObjectError, ObjectMissingError, RemoteError, RemoteKeyMissingError
from cairn.objects import pack
from cairn.objects.store import ObjectStore
from cairn.objects.tree import TREE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.remote import Remote, loose_key, pack_key, pieces
from cairn.remotes.staging import Staging
from cairn.storage.base import TMP_PREFIX
from cairn.workspace.context import Workspace

Root = tuple[str, str]  # (kind, oid)
# A pack without an index younger than this may be a push in progress (it uploads the pack,
# then its index); gc leaves it alone.
ORPHAN_GRACE_S = 3600


@dataclass
class VerifyReport:
    checked: int = 0  # objects the remote claimed, downloaded and hashed
    damaged: list[str] = field(default_factory=list)  # their bytes did not match their ids
    lost: list[str] = field(default_factory=list)  # listed, but gone when read

    def to_dict(self) -> dict:
        return {"checked": self.checked, "damaged": self.damaged, "lost": self.lost}


@dataclass
class TransferResult:
    transferred: int = 0
    bytes: int = 0
    skipped: int = 0  # already there
    missing: list[str] = field(default_factory=list)  # wanted but nowhere to be had
    corrupt: list[str] = field(default_factory=list)
    requests: int = 0
    verified: VerifyReport | None = None  # push --verify

    def to_dict(self) -> dict:
        out = {
            "transferred": self.transferred,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "missing": self.missing,
            "corrupt": self.corrupt,
        }
        if self.verified is not None:
            out["verify"] = self.verified.to_dict()
        return out


def roots_key(roots: Iterable[Root]) -> str:
    """One id for a set of roots (order and repeats do not matter)."""
    return blake3("\n".join(sorted({f"{k}:{o}" for k, o in roots})).encode()).hexdigest()


def _closure(
    ws: Workspace, roots: Iterable[Root], remote: Remote | None = None
) -> tuple[dict[str, tuple[str, int | None]], list[str]]:
    """oid -> (kind, size) for everything reachable through trees, plus the trees found
    nowhere. The size is a file's, from its tree entry; None for roots and trees (a tree's
    entry holds the size of the files below it, not its own). Trees come from the cache or,
    given a (refreshed) remote, from the remote: a clone that never pulled must still see
    what lies under a tree it has not fetched."""
    seen: dict[str, tuple[str, int | None]] = {}
    lacking: list[str] = []
    have = remote.index.all_oids() if remote is not None else set()
    stack: list[tuple[str, str, int | None]] = [(k, o, None) for k, o in roots]
    while stack:
        kind, oid, size = stack.pop()
        if oid in seen:
            continue
        seen[oid] = (kind, size)
        if kind != TREE:
            continue
        try:
            with open(ws.store.path(oid), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if remote is None or oid not in have:
                lacking.append(oid)
                continue
            data = remote.read_object(oid)
        stack.extend((e.kind, e.oid, None if e.kind == TREE else e.size) for e in Tree.from_bytes(data, oid).entries)
    return seen, lacking


def _run(jobs: int, tasks: list, fn, on_done) -> None:
    """Run fn(task) on a pool, at most `jobs` in flight (bounded memory); on_done(result) in
    this thread. On an error or Ctrl-C, queued tasks are dropped, running ones finish."""
    if not tasks:
        return
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="cairn-transfer")
    pending: set[Future] = set()
    it = iter(tasks)
    try:
        for task in it:
            pending.add(pool.submit(fn, task))
            if len(pending) >= jobs:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    on_done(f.result())
        for f in pending:
            on_done(f.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Transfers allocate many small long-lived objects (index rows, tree entries) and no
    cycles: the cyclic GC would only scan them again and again (~5% of a pull, measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- push ---------------------------------------------------------------------------------------


def push(
    ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress = NULL, verify: bool = False
) -> TransferResult:
    """Send what `roots` reach and the remote lacks. Without `verify`, the local index of the
    remote is trusted while the remote's generation is unchanged; with it, the remote is listed
    and every index read again, and every object it claims is downloaded and checked, so lost
    or damaged copies are sent again (damaged ones are then removed from their packs)."""
    roots = sorted(set(roots))
    key = roots_key(roots)
    if not verify:
        known = remote.index.complete(key)
        if known is not None and remote.unchanged():
            return TransferResult(skipped=known)
    with no_cyclic_gc():
        return _push(ws, remote, roots, key, progress, verify)


def _push(ws: Workspace, remote: Remote, roots: list[Root], key: str, progress: Progress, verify: bool):
    wanted, lacking = _closure(ws, roots)
    remote.refresh(create=True, rescan=verify)
    result = TransferResult()
    damaged_in: dict[str | None, list[str]] = defaultdict(list)
    if verify:
        result.verified, damaged_in = _verify(ws, remote, sorted(set(wanted) & remote.index.all_oids()), progress)
    else:
        # copies a fetch from this clone found damaged: sent again below, then taken off their packs
        for oid, pack_id in remote.index.damaged().items():
            if oid in wanted and pack_id is not None:
                damaged_in[pack_id].append(oid)
    have = remote.index.all_oids()
    todo_small: list[tuple[str, int]] = []
    todo_large: list[tuple[str, int]] = []
    for oid, (_, size) in sorted(wanted.items()):
        if oid in have:
            result.skipped += 1
            continue
        if size is None:  # a tree or a root; files are found missing while packing (no stat each)
            try:
                size = ws.store.size(oid)
            except FileNotFoundError:
                result.missing.append(oid)
                continue
        (todo_small if size < pack.PACK_THRESHOLD else todo_large).append((oid, size))
    result.missing.extend(o for o in lacking if o not in have and o not in result.missing)
    total_files = len(todo_small) + len(todo_large)
    task = progress.task(
        f"push to {remote.name}", total_files, unit="files", total_bytes=sum(n for _, n in todo_small + todo_large)
    )
    # trees get packs of their own: fetch reads trees level by level, so a few tree-only packs
    # serve every level instead of ranges scattered over all the data packs
    trees = [t for t in todo_small if wanted[t[0]][0] == TREE]
    files = [t for t in todo_small if wanted[t[0]][0] != TREE]
    sizes = dict(todo_small)
    grouped = pack.group(trees, remote.pack_target) + pack.group(files, remote.pack_target)
    groups = [[(o, sizes[o]) for o in g] for g in grouped]

    def send_pack(objects: list[tuple[str, int]]):
        return "pack", [o for o, _ in objects], remote.upload_pack(ws.store, objects)

    def send_loose(item: tuple[str, int]):
        return "loose", [item[0]], remote.upload_loose(ws.store, item[0])

    def done(res) -> None:
        kind, oids, info = res
        if info is None:  # the cache had none of them
            result.missing.extend(oids)
            task.advance(len(oids))
            return
        if kind == "pack":
            pack_id, size, rows = info
            remote.index.add_pack(pack_id, size, rows)
            if len(rows) < len(oids):
                packed = {r[0] for r in rows}
                result.missing.extend(o for o in oids if o not in packed)
            sent = len(rows)
        else:
            size, sent = info, 1
            remote.index.add_loose(oids[0], size)
        result.bytes += size
        result.transferred += sent
        task.advance(len(oids), nbytes=size)

    try:
        # large files first: their streams overlap with the pack uploads that follow
        work = [(send_loose, item) for item in todo_large] + [(send_pack, g) for g in groups]
        _run(remote.jobs, work, lambda w: w[0](w[1]), done)
    finally:
        task.close()
    result.missing.sort()
    if not verify:  # a plain push rewrites only packs whose damaged copies it has just replaced
        sent = {o for o, _ in todo_small}
        damaged_in = {p: bad for p, bad in damaged_in.items() if any(o in sent for o in bad)}
    if damaged_in:
        _remove_damaged(ws, remote, damaged_in, {o for o, _ in todo_large} if verify else None)
    elif not result.missing and not lacking:
        remote.index.set_complete(key, len(wanted))
    return result


def _verify(
    ws: Workspace, remote: Remote, oids: list[str], progress: Progress
) -> tuple[VerifyReport, dict[str | None, list[str]]]:
    """Download and hash every object in `oids` (nothing is stored). Lost and damaged ones are
    forgotten by the index, so the push sends them. Returns the report and the damaged objects
    by pack (None: loose)."""
    report = VerifyReport()
    where = remote.index.locate(oids)
    damaged_in: dict[str | None, list[str]] = defaultdict(list)
    by_pack: dict[str, list[pack.IndexRow]] = defaultdict(list)
    work: list[tuple] = []
    for oid, (pack_id, off, size) in where.items():
        if pack_id is None:
            work.append(("loose", None, oid))
        else:
            by_pack[pack_id].append((oid, off, size))
    work += [("piece", pack_id, piece) for pack_id, rows in by_pack.items() for piece in pieces(rows)]
    task = progress.task(f"verify {remote.name}", len(where), unit="files")

    def check(w: tuple):
        kind, pack_id, what = w
        if kind == "loose":
            _, bad, lost = remote.check_loose(ws.store, what, keep=False)
            return pack_id, 1, bad, lost
        try:
            bad = [oid for oid, data in remote.read_piece(pack_id, what) if data is None]
        except RemoteKeyMissingError:  # the pack is gone
            return pack_id, len(what), [], [o for o, _, _ in what]
        return pack_id, len(what), bad, []

    def done(res) -> None:
        pack_id, n, bad, lost = res
        report.checked += n
        report.damaged.extend(bad)
        report.lost.extend(lost)
        if bad:
            damaged_in[pack_id].extend(bad)
        task.advance(n)

    try:
        _run(remote.jobs, work, check, done)
    finally:
        task.close()
    report.damaged.sort()
    report.lost.sort()
    remote.index.forget(report.damaged + report.lost)
    return report, dict(damaged_in)


def _remove_damaged(
    ws: Workspace, remote: Remote, damaged_in: dict[str | None, list[str]], resent: set[str] | None
) -> None:
    """Take damaged copies off the remote once good ones were sent: a pack holding one is
    rewritten without it (every object it keeps is verified again on the way); a damaged
    loose object was overwritten by its good copy, or (when `resent`, the loose objects sent,
    is given) is deleted when there was none. Clones are told by a new generation."""
    remote.bump_generation()
    for pack_id, bad in damaged_in.items():
        if pack_id is None:
            for oid in bad if resent is not None else ():
                if oid not in resent:
                    remote.storage.delete(loose_key(oid))
            continue
        rows = remote.index.pack_rows(pack_id)  # the forgotten damaged objects are not among them
        new = remote.rewrite_pack(ws.store, pack_id, [o for o, _, _ in rows])
        remote.delete_pack(pack_id)
        remote.index.drop_packs([pack_id])
        if new is not None:
            remote.index.add_pack(*new)
    remote.bump_generation()
    remote.index.set_generation(None)  # listed again next time


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
    task = progress.task(f"fetch from {remote.name}", None, unit="files", total_bytes=0)
    try:
        while frontier:
            # once per oid: the same folder version is often referenced many times
            level = list({o: (k, o) for k, o in frontier if o not in seen}.values())
            seen.update(o for _, o in level)
            need = _absent(ws.store, sorted({o for _, o in level}))
            result.skipped += len(level) - len(need)
            _fetch_objects(ws, remote, need, result, lost, intact, task, staging)
            frontier = []
            for kind, oid in level:
                if kind == TREE and ws.store.exists(oid) and oid not in result.corrupt:
                    tree = Tree.from_bytes(ws.store.read(oid), oid)
                    frontier.extend((e.kind, e.oid) for e in tree.entries if e.oid not in seen)
                    if staging is not None:
                        staging.expand(oid, tree)
    finally:
        task.close()
        remote.index.mark_damaged(result.corrupt)
        remote.index.mark_good(intact)
        remote.index.forget(lost)
    return result


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
    return [o for o in oids if o not in present]


def _fetch_objects(
    ws: Workspace,
    remote: Remote,
    oids: list[str],
    result: TransferResult,
    lost: list[str],
    intact: list[str],
    task,
    staging: Staging | None,
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
        return len(w[2]), remote.fetch_piece(ws.store, w[1], w[2], staging.write if staging else None)

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

    _run(remote.jobs, work, get, done)
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


# -- status -------------------------------------------------------------------------------------


@dataclass
class RemoteStatus:
    local_only: list[str] = field(default_factory=list)  # push would send these
    remote_only: list[str] = field(default_factory=list)  # fetch would get these
    both: int = 0
    missing: list[str] = field(default_factory=list)  # neither here nor there

    def to_dict(self) -> dict:
        return {
            "local_only": len(self.local_only),
            "remote_only": len(self.remote_only),
            "both": self.both,
            "missing": len(self.missing),
            "objects": {"local_only": self.local_only, "remote_only": self.remote_only, "missing": self.missing},
        }


def remote_status(ws: Workspace, remote: Remote, roots: Iterable[Root]) -> RemoteStatus:
    remote.refresh()
    wanted, lacking = _closure(ws, roots, remote)
    have = remote.index.all_oids()
    st = RemoteStatus()
    for oid in sorted(set(wanted) | set(lacking)):
        local = ws.store.exists(oid)
        there = oid in have
        if local and there:
            st.both += 1
        elif local:
            st.local_only.append(oid)
        elif there:
            st.remote_only.append(oid)
        else:
            st.missing.append(oid)
    return st


# -- gc -----------------------------------------------------------------------------------------


@dataclass
class RemoteGcPlan:
    loose: list[str] = field(default_factory=list)  # loose objects to delete
    packs: list[str] = field(default_factory=list)  # packs with nothing referenced: delete
    repack: dict[str, list[str]] = field(default_factory=dict)  # pack -> objects to keep
    damaged: list[str] = field(default_factory=list)  # packs whose index cannot be read: delete both
    stale_indexes: list[str] = field(default_factory=list)  # indexes whose pack is gone
    orphans: list[str] = field(default_factory=list)  # packs never indexed, older than the grace period
    young_orphans: int = 0  # packs never indexed, younger: a push may still be writing them
    temps: list[str] = field(default_factory=list)  # temp keys a killed transfer left (non-atomic backends)
    young_temps: int = 0  # temp keys younger than the grace period: a transfer may be writing them
    runs: list[str] = field(default_factory=list)  # run-cache entries (keys) to delete
    runs_kept: int = 0
    remove_objects: int = 0
    remove_bytes: int = 0
    kept: int = 0

    def to_dict(self) -> dict:
        return {
            "remove": self.remove_objects,
            "remove_bytes": self.remove_bytes,
            "keep": self.kept,
            "delete_packs": len(self.packs),
            "repack": len(self.repack),
            "delete_loose": len(self.loose),
            "damaged_indexes": len(self.damaged),
            "stale_indexes": len(self.stale_indexes),
            "orphan_packs": len(self.orphans),
            "orphan_packs_kept": self.young_orphans,
            "temp_keys": len(self.temps),
            "temp_keys_kept": self.young_temps,
            "delete_runs": len(self.runs),
            "keep_runs": self.runs_kept,
        }

    def anything(self) -> bool:
        """Whether a sweep would change the remote."""
        return bool(
            self.remove_objects
            or self.damaged
            or self.stale_indexes
            or self.orphans
            or self.temps
            or self.runs
            or self.repack
        )


def _keep_set(ws: Workspace, remote: Remote, roots: Iterable[Root]) -> set[str]:
    """Everything referenced, reading trees from the cache or else from the remote itself: a
    clone that never pulled must not conclude that the data under an unseen tree is garbage."""
    keep, lost = _closure(ws, roots, remote)
    if lost:
        raise RemoteError(
            f"{len(lost)} referenced folder version(s) are neither in the cache nor on remote {remote.name!r}, "
            "so what they contain cannot be told apart from garbage; nothing was removed",
            "push them from a clone that has them (`cairn push --all-commits`), then run gc again",
        )
    return set(keep)


RunOutputs = Callable[[bytes], "list[str] | None"]


def gc_plan(
    ws: Workspace, remote: Remote, roots: Iterable[Root], run_outputs: RunOutputs | None = None
) -> RemoteGcPlan:
    """What `gc --remote` removes. The remote is listed and every pack index read again (gc
    must not act on a stale picture); damaged indexes are planned for removal with their packs,
    packs that never got an index (a killed push) and temp keys left by a killed write (on
    backends without atomic writes) once older than ORPHAN_GRACE_S. A run-cache
    entry is kept when every output it restores is kept (`run_outputs` reads an entry's
    output ids; None: unreadable); run-cache entries keep nothing alive, as in the local gc."""
    remote.refresh(tolerant=True, rescan=True)
    keep = _keep_set(ws, remote, roots)
    plan = RemoteGcPlan()
    rows_by_pack: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for oid, (pack_id, _off, size) in remote.index.locate(remote.index.all_oids()).items():
        if pack_id is None:
            if oid in keep:
                plan.kept += 1
            else:
                plan.loose.append(oid)
                plan.remove_objects += 1
                plan.remove_bytes += size
        else:
            rows_by_pack[pack_id].append((oid, size))
    for pack_id, rows in rows_by_pack.items():
        live = [o for o, _ in rows if o in keep]
        dead = [(o, s) for o, s in rows if o not in keep]
        plan.kept += len(live)
        if not dead:
            continue
        plan.remove_objects += len(dead)
        plan.remove_bytes += sum(s for _, s in dead)
        if live:
            plan.repack[pack_id] = live
        else:
            plan.packs.append(pack_id)
    listing = remote.listing
    plan.damaged = list(listing.damaged)
    plan.stale_indexes = list(listing.stale_indexes)
    cutoff = time.time() - ORPHAN_GRACE_S
    for pack_id, size, mtime in listing.orphans:
        if mtime is not None and mtime < cutoff:
            plan.orphans.append(pack_id)
            plan.remove_bytes += size
        else:
            plan.young_orphans += 1
    for key, size, mtime in remote.storage.scan(TMP_PREFIX):
        if mtime is not None and mtime < cutoff:
            plan.temps.append(key)
            plan.remove_bytes += size
        else:
            plan.young_temps += 1
    if run_outputs is not None:
        entries = sorted(k for k, _ in remote.storage.list("runs") if k.endswith(".json"))
        with ThreadPoolExecutor(remote.jobs, thread_name_prefix="cairn-runs") as pool:
            for k, data in zip(entries, pool.map(remote.storage.get_bytes, entries), strict=True):
                outs = run_outputs(data)
                if outs is not None and all(o in keep for o in outs):
                    plan.runs_kept += 1
                else:
                    plan.runs.append(k)
    plan.loose.sort()
    plan.packs.sort()
    plan.temps.sort()
    return plan


def gc_sweep(ws: Workspace, remote: Remote, plan: RemoteGcPlan) -> None:
    """Repack first (the live objects get a new pack before the old one goes), then delete. An
    index is always deleted before its pack, so no index ever points at a missing pack. The
    generation changes before anything is deleted and again at the end, so every clone lists
    the remote again before it trusts its index."""
    remote.bump_generation()
    for pack_id, live in plan.repack.items():
        remote.rewrite_pack(ws.store, pack_id, live)
        remote.delete_pack(pack_id)
    for pack_id in [*plan.packs, *plan.damaged]:
        remote.delete_pack(pack_id)
    for pack_id in plan.stale_indexes:
        remote.storage.delete(pack_key(pack_id, "idx"))
    for pack_id in plan.orphans:
        remote.storage.delete(pack_key(pack_id, "pack"))
    for oid in plan.loose:
        remote.storage.delete(loose_key(oid))
    for key in [*plan.runs, *plan.temps]:
        remote.storage.delete(key)
    remote.bump_generation()
    remote.index.clear()
    remote._fresh = False
