"""gc --remote: what a shared remote may drop, and dropping it."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cairn.errors import RemoteError
from cairn.remotes import records
from cairn.remotes.closure import Root, closure
from cairn.remotes.records import RootRecord
from cairn.remotes.remote import Remote, list_key, loose_key, pack_key
from cairn.storage.base import TMP_PREFIX
from cairn.workspace.context import Workspace

# A pack without an index younger than this may be a push in progress (it uploads the pack,
# then its index); gc leaves it alone.
ORPHAN_GRACE_S = 3600
# Objects written more recently than this are kept whatever references them (git's
# gc.pruneExpire): a push whose root record is not written yet, or whose lock was lost, is safe.
DEFAULT_GRACE_S = 14 * 24 * 3600


@dataclass
class GcPolicy:
    grace_s: float = DEFAULT_GRACE_S
    forget_older_than: float | None = None  # seconds: root records older than this are forgotten
    forget_refs: list[str] = field(default_factory=list)  # root records pushed for these refs are forgotten


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
    # chunk lists of files nothing references, whatever their age: a list kept while its chunks
    # go (by age) would promise a file the remote cannot give
    lists: list[str] = field(default_factory=list)
    runs_kept: int = 0
    records: list[RootRecord] = field(default_factory=list)  # root records kept
    forget: list[RootRecord] = field(default_factory=list)  # root records the policy forgets
    # --forget-ref names no record was pushed for (a typo, or a branch pushed only as another name)
    unmatched_refs: list[str] = field(default_factory=list)
    young: int = 0  # unreferenced objects kept because they were written within the grace period
    remove_objects: int = 0
    remove_bytes: int = 0
    kept: int = 0

    def to_dict(self) -> dict:
        return {
            "remove": self.remove_objects,
            "remove_bytes": self.remove_bytes,
            "keep": self.kept,
            "keep_young": self.young,
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
            "root_records": len(self.records),
            "forget_records": [r.to_dict() for r in self.forget],
            "forget_refs_unmatched": self.unmatched_refs,
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
            or self.lists
            or self.repack
            or self.forget
        )


def _keep_set(ws: Workspace, remote: Remote, roots: Iterable[Root], where: Where | None) -> set[str]:
    """Everything referenced, reading trees from the cache or else from the remote itself: a
    clone that never pulled must not conclude that the data under an unseen tree is garbage."""
    keep, lost = closure(ws, roots, remote)
    if lost:
        named = where(lost) if where is not None else []
        raise RemoteError(
            f"{len(lost)} referenced folder version(s) are neither in the cache nor on remote {remote.name!r}, "
            "so what they contain cannot be told apart from garbage; nothing was removed"
            + (f" (referenced by {', '.join(named[:5])}{' and more' if len(named) > 5 else ''})" if named else ""),
            "push them from a clone that has them (`cairn push --all-commits`), then run gc again",
        )
    return set(keep)


RunOutputs = Callable[[bytes], "list[str] | None"]
# Given tree ids nobody has, what references them (commits, records), for the error message.
Where = Callable[[list[str]], list[str]]


def gc_plan(
    ws: Workspace,
    remote: Remote,
    roots: Iterable[Root],
    policy: GcPolicy,
    run_outputs: RunOutputs | None = None,
    where: Where | None = None,
) -> RemoteGcPlan:
    """What `gc --remote` removes. Kept: what `roots` reach (the caller's refs and the git
    remotes' refs), what every root record on the remote reaches except those `policy` forgets,
    and every pack or loose object written within `policy.grace_s`. The remote is listed and
    every pack index read again (gc must not act on a stale picture); damaged indexes are
    planned for removal with their packs, packs that never got an index (a killed push) and temp
    keys left by a killed write (on backends without atomic writes) once older than
    ORPHAN_GRACE_S. A run-cache entry is kept when every output it restores is kept
    (`run_outputs` reads an entry's output ids; None: unreadable); run-cache entries keep
    nothing alive, as in the local gc."""
    remote.refresh(tolerant=True, rescan=True)
    plan = RemoteGcPlan()
    every = records.read_all(remote.storage, remote.jobs)
    plan.forget = records.forgotten(every, policy.forget_older_than, policy.forget_refs)
    plan.unmatched_refs = [n for n in policy.forget_refs if not records.forgotten(every, None, [n])]
    gone = {r.key for r in plan.forget}
    plan.records = [r for r in every if r.key not in gone]
    record_roots = [root for r in plan.records for root in r.roots]

    def whence(lost: list[str]) -> list[str]:
        named = [f"root record {r.key}" for r in plan.records if any(o in lost for _, o in r.roots)]
        return named + (where(lost) if where is not None else [])

    keep = _keep_set(ws, remote, [*roots, *record_roots], whence)
    young_after = time.time() - policy.grace_s
    written = remote.listing.written

    def young(container: str) -> bool:
        t = written.get(container)
        return t is None or t > young_after  # a backend that cannot tell: never old enough

    rows_by_pack: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for oid, (pack_id, _off, size) in remote.index.locate(remote.index.all_oids()).items():
        if pack_id is None:
            if oid in keep:
                plan.kept += 1
            elif young(oid):
                plan.young += 1
                keep.add(oid)
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
        if young(pack_id):
            plan.young += len(dead)
            keep.update(o for o, _ in dead)
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
    plan.lists = sorted(o for o in remote.chunk_lists if o not in keep)
    plan.remove_objects += len(plan.lists)
    plan.loose.sort()
    plan.packs.sort()
    plan.temps.sort()
    return plan


def gc_sweep(ws: Workspace, remote: Remote, plan: RemoteGcPlan) -> None:
    """Forget the records the policy drops, repack (the live objects get a new pack before the
    old one goes), then delete. An index is always deleted before its pack, so no index ever
    points at a missing pack. The generation changes before anything is deleted and again at
    the end, so every clone lists the remote again before it trusts its index. The caller holds
    the remote's exclusive lock and made `plan` under it."""
    remote.bump_generation()
    for oid in plan.lists:  # before any chunk: a list never outlives one of its chunks
        remote.storage.delete(list_key(oid))
    for record in plan.forget:
        remote.storage.delete(record.key)
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
