"""push / fetch / remote status / remote gc: decide what moves, then move it concurrently.

Only missing objects move. Small objects travel packed; large ones stream on their own. Every
fetched object is verified against its id before it enters the cache; a corrupt one is named and
never stored. An interrupted transfer leaves only complete objects (and at worst an orphan pack
without an index, which nothing trusts), so rerunning finishes the job."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from blake3 import blake3

from cairn.errors import CorruptObjectError, ObjectMissingError, RemoteError
from cairn.objects import pack
from cairn.objects.tree import TREE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.remote import Remote, loose_key, pack_key
from cairn.workspace.context import Workspace

Root = tuple[str, str]  # (kind, oid)


@dataclass
class TransferResult:
    transferred: int = 0
    bytes: int = 0
    skipped: int = 0  # already there
    missing: list[str] = field(default_factory=list)  # wanted but nowhere to be had
    corrupt: list[str] = field(default_factory=list)
    requests: int = 0

    def to_dict(self) -> dict:
        return {
            "transferred": self.transferred,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "missing": self.missing,
            "corrupt": self.corrupt,
        }


def _closure(ws: Workspace, roots: Iterable[Root], remote: Remote | None = None) -> tuple[dict[str, str], list[str]]:
    """oid -> kind for everything reachable through trees, plus the trees found nowhere. Trees
    come from the cache or, given a (refreshed) remote, from the remote: a clone that never
    pulled must still see what lies under a tree it has not fetched."""
    seen: dict[str, str] = {}
    lacking: list[str] = []
    have = remote.index.all_oids() if remote is not None else set()
    stack = list(roots)
    while stack:
        kind, oid = stack.pop()
        if oid in seen:
            continue
        seen[oid] = kind
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
        stack.extend((e.kind, e.oid) for e in Tree.from_bytes(data, oid).entries)
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


def push(ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress = NULL) -> TransferResult:
    wanted, lacking = _closure(ws, roots)
    remote.refresh(create=True)
    have = remote.index.all_oids()
    result = TransferResult()
    todo_small: list[tuple[str, int]] = []
    todo_large: list[tuple[str, int]] = []
    for oid in sorted(wanted):
        if oid in have:
            result.skipped += 1
            continue
        try:
            size = ws.store.size(oid)
        except FileNotFoundError:
            result.missing.append(oid)
            continue
        (todo_small if size < pack.PACK_THRESHOLD else todo_large).append((oid, size))
    result.missing.extend(o for o in lacking if o not in have and o not in result.missing)
    total_files = len(todo_small) + len(todo_large)
    task = progress.task(f"push to {remote.name}", total_files, unit="files")
    # trees get packs of their own: fetch reads trees level by level, so a few tree-only packs
    # serve every level instead of ranges scattered over all the data packs
    trees = [t for t in todo_small if wanted[t[0]] == TREE]
    files = [t for t in todo_small if wanted[t[0]] != TREE]
    groups = pack.group(trees, remote.pack_target) + pack.group(files, remote.pack_target)
    sizes = dict(todo_small)

    def send_pack(oids: list[str]):
        return "pack", oids, remote.upload_pack(ws.store, oids)

    def send_loose(item: tuple[str, int]):
        return "loose", [item[0]], remote.upload_loose(ws.store, item[0])

    def done(res) -> None:
        kind, oids, info = res
        if kind == "pack":
            pack_id, size, rows = info
            remote.index.add_pack(pack_id, size, rows)
            result.bytes += sum(sizes[o] for o in oids)
        else:
            remote.index.add_loose(oids[0], info)
            result.bytes += info
        result.transferred += len(oids)
        task.advance(len(oids))

    try:
        # large files first: their streams overlap with the pack uploads that follow
        work = [(send_loose, item) for item in todo_large] + [(send_pack, g) for g in groups]
        _run(remote.jobs, work, lambda w: w[0](w[1]), done)
    finally:
        task.close()
    return result


def fetch(ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress = NULL) -> TransferResult:
    """Bring every object reachable from `roots` into the cache. Trees are fetched level by
    level (a tree must be read before its children are known)."""
    remote.refresh()
    result = TransferResult()
    frontier = list(roots)
    seen: set[str] = set()
    task = progress.task(f"fetch from {remote.name}", None, unit="files")
    try:
        while frontier:
            # once per oid: the same folder version is often referenced many times
            level = list({o: (k, o) for k, o in frontier if o not in seen}.values())
            seen.update(o for _, o in level)
            need = sorted({o for _, o in level if not ws.store.exists(o)})
            result.skipped += len(level) - len(need)
            task.add_total(len(need))
            _fetch_objects(ws, remote, need, result, task)
            frontier = []
            for kind, oid in level:
                if kind == TREE and ws.store.exists(oid) and oid not in result.corrupt:
                    tree = Tree.from_bytes(ws.store.read(oid), oid)
                    frontier.extend((e.kind, e.oid) for e in tree.entries if e.oid not in seen)
    finally:
        task.close()
    return result


def _fetch_objects(ws: Workspace, remote: Remote, oids: list[str], result: TransferResult, task) -> None:
    if not oids:
        return
    where = remote.index.locate(oids)
    result.missing.extend(o for o in oids if o not in where)
    by_pack: dict[str, list[pack.IndexRow]] = defaultdict(list)
    loose: list[str] = []
    for oid, (pack_id, off, size) in where.items():
        if pack_id is None:
            loose.append(oid)
        else:
            by_pack[pack_id].append((oid, off, size))
    pack_sizes = remote.index.packs()
    work: list[tuple] = [("loose", oid) for oid in loose]
    for pack_id, rows in by_pack.items():
        wanted = sum(r[2] for r in rows)
        if wanted * 2 >= pack_sizes.get(pack_id, wanted * 2):
            # most of the pack is wanted: one GET of the whole pack beats many ranges
            work.append(("whole", pack_id, sorted(rows, key=lambda r: r[1])))
        else:
            work.extend(("range", pack_id, run) for run in pack.ranges(rows))

    def get(w: tuple):
        if w[0] == "loose":
            return 1, remote.fetch_loose(ws.store, w[1])
        return len(w[2]), remote.fetch_run(ws.store, w[1], w[2], whole=w[0] == "whole")

    def done(res) -> None:
        n, (nbytes, bad) = res
        result.transferred += n - len(bad)
        result.bytes += nbytes
        result.corrupt.extend(bad)
        task.advance(n)

    _run(remote.jobs, work, get, done)


def _shown(oids: list[str]) -> str:
    return ", ".join(oids[:5]) + (f" and {len(oids) - 5} more" if len(oids) > 5 else "")


def raise_for_failures(remote: Remote, result: TransferResult) -> None:
    """Fail a fetch that could not get everything: corrupt objects, then missing ones (a pull
    must not go on to a checkout that can only report them as absent from the cache)."""
    if result.corrupt:
        raise CorruptObjectError(
            f"{len(result.corrupt)} object(s) on remote {remote.name!r} are corrupt and were not used: "
            f"{_shown(result.corrupt)}",
            "push good copies from a clone that has them (`cairn push`), or drop the damaged data with "
            f"`cairn gc --remote {remote.name} --yes`",
        )
    if result.missing:
        raise ObjectMissingError(
            f"{len(result.missing)} object(s) are not on remote {remote.name!r} (lost there, or never pushed): "
            f"{_shown(result.missing)}",
            "push them from a clone that has them (`cairn push`); `cairn status --remote` shows what is where",
            result.missing,
        )


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


@dataclass
class RemoteGcPlan:
    loose: list[str] = field(default_factory=list)  # loose objects to delete
    packs: list[str] = field(default_factory=list)  # packs with nothing referenced: delete
    repack: dict[str, list[str]] = field(default_factory=dict)  # pack -> objects to keep
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
        }


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


def gc_plan(ws: Workspace, remote: Remote, roots: Iterable[Root]) -> RemoteGcPlan:
    remote.refresh()
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
    plan.loose.sort()
    plan.packs.sort()
    return plan


def gc_sweep(ws: Workspace, remote: Remote, plan: RemoteGcPlan) -> None:
    """Repack first (the live objects get a new pack before the old one goes), then delete.
    An index is always deleted before its pack, so no index ever points at a missing pack."""
    for pack_id, live in plan.repack.items():
        rows = {o: (off, size) for o, off, size in remote.index.pack_rows(pack_id)}
        blob = remote.storage.get_bytes(pack_key(pack_id, "pack"))
        objects = []
        for oid in live:
            off, size = rows[oid]
            data = blob[off : off + size]
            if blake3(data).hexdigest() == oid:  # never carry a damaged object into a new pack
                objects.append((oid, data))
        new_id, data, idx = pack.build(objects)
        remote.storage.put_bytes(pack_key(new_id, "pack"), data)
        remote.storage.put_bytes(pack_key(new_id, "idx"), idx)
        plan.packs.append(pack_id)
    for pack_id in plan.packs:
        remote.storage.delete(pack_key(pack_id, "idx"))
        remote.storage.delete(pack_key(pack_id, "pack"))
    for oid in plan.loose:
        remote.storage.delete(loose_key(oid))
    remote.index.clear()
    remote._fresh = False
