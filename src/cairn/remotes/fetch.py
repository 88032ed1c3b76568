"""fetch: bring what the roots reach into the cache.

Every fetched object is verified against its id before it enters the cache; a corrupt one is
named and never stored. Small objects go into local packs as `add` puts them there
(objects/localpacks.py; cache.type copy, below 2 MiB), so a pull of many small files creates
files only in the workspace. Trees are held in memory and written only once every file below
them is stored and the packs holding them are sealed: a tree in the cache vouches for its files
(`add` trusts it), so a killed fetch leaves sealed packs and complete trees, and the rerun
finishes the job.

Trees go level by level (a tree must be read before its children are known); files go in
batches of whole folders (BATCH files), so the plan of a million files' transfers, and the paths
a pull stages them at, never sit in memory at once."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterable

from cairn.errors import CorruptObjectError, ObjectMissingError
from cairn.objects import pack
from cairn.objects.localpacks import SMALL_PACKED
from cairn.objects.store import ObjectStore
from cairn.objects.tree import TREE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.closure import Root
from cairn.remotes.pool import no_cyclic_gc, run_pool
from cairn.remotes.remote import Remote, pieces
from cairn.remotes.result import TransferResult
from cairn.remotes.staging import Staging
from cairn.workspace import linking
from cairn.workspace.context import Workspace

# -- fetch --------------------------------------------------------------------------------------


def fetch(
    ws: Workspace,
    remote: Remote,
    roots: Iterable[Root],
    progress: Progress = NULL,
    staging: Staging | None = None,
    pack_small: bool | None = None,
) -> TransferResult:
    """Bring every object reachable from `roots` into the cache. Trees are fetched level by
    level (a tree must be read before its children are known). Objects found damaged or gone
    on the remote are forgotten by the local index, so a push from this clone sends them.
    With `staging`, the files of folders a pull will place are written as objects arrive.
    Small files are packed when `pack_small` (default: when the link type cache.type gives is
    copy, as for `add`; a link needs a loose object)."""
    if pack_small is None:
        pack_small = linking.choose(ws.link_types, ws.store, str(ws.tmp)) == "copy"
    with no_cyclic_gc():
        return _fetch(ws, remote, roots, progress, staging, pack_small)


# Files planned and transferred together: a fetch handles the files of a level (most of a
# dataset's files are in its deepest folders) a batch of whole folders at a time, so its plan
# (locations, range requests) and a pull's staged paths never exist for every file at once
# (issue 22: the whole level at once peaked at ~2 KB an object, ~2.4 GB for a million files).
BATCH = 32_768
# a batch whose range requests span more than this many times the bytes it wants from packs
_SPREAD = 4
# packed objects in the cache from which a fetch keeps their ids in a set (see _Run)
_SET_AT = 4 * BATCH


def _fetch(
    ws: Workspace, remote: Remote, roots: Iterable[Root], progress: Progress, staging: Staging | None, pack_small: bool
):
    remote.refresh()
    run = _Run(ws, remote, progress, staging, pack_small)
    landing, result = run.landing, run.result
    try:
        frontier = list(roots)
        while frontier:
            # once per oid: the same folder version is often referenced many times
            trees = [o for o in dict.fromkeys(o for k, o in frontier if k == TREE) if run.first_time(o)]
            pending = [(k, o) for k, o in frontier if k != TREE]  # roots that are files, chunks
            frontier = []
            landing.trees.update(trees)
            need = _absent(ws.store, sorted(trees))
            result.skipped += len(trees) - len(need)
            run.transfer(need)
            for oid in trees:
                if oid in result.corrupt:
                    continue
                data = landing.held.get(oid)
                if data is None:
                    if not ws.store.exists(oid):
                        continue  # missing on the remote: reported
                    data = ws.store.read(oid)
                tree = Tree.from_bytes(data, oid)
                subtrees = [e.oid for e in tree.entries if e.kind == TREE]
                if subtrees:
                    landing.kids[oid] = subtrees
                    frontier.extend((TREE, s) for s in subtrees)
                if staging is not None:
                    staging.expand(oid, tree)
                pending.extend((e.kind, e.oid) for e in tree.entries if e.kind != TREE)
                if len(pending) >= run.batch:  # whole folders: a staged folder's files are all in one batch
                    run.files(pending, frontier)
                    pending = []
            run.files(pending, frontier)
        landing.packs.close()  # sealed before any list or tree that names what they hold is written
        if landing.packs.sealed:
            ws.store.packs.update_midx()
        unlisted: list[str] = []
        for cl in run.lists:
            if all(ws.store.has_object(c) for c in cl.ids()):
                ws.store.write_list(cl)
                result.transferred += 1
            else:
                unlisted.append(cl.oid)
        landing.write_trees({*result.corrupt, *result.missing, *unlisted})
    finally:
        landing.packs.close()  # what arrived is complete and verified: kept for the rerun
        run.task.close()
        remote.index.mark_damaged(result.corrupt)
        remote.index.mark_good(run.intact)
        remote.index.forget(run.lost)
    return result


class _Run:
    """One fetch's state: what it met, what failed, where objects land."""

    def __init__(
        self, ws: Workspace, remote: Remote, progress: Progress, staging: Staging | None, pack_small: bool
    ) -> None:
        self.ws, self.remote, self.staging = ws, remote, staging
        self.result = TransferResult()
        # every object met, as its 32 bytes (a set of hex strings kept ~150 bytes an object alive)
        self.seen: set[bytes] = set()
        self.lost: list[str] = []
        # copies read intact, for the index's damaged list: only kept while it names any
        self.intact: list[str] = []
        self._damaged = bool(remote.index.damaged())
        self.lists: list = []  # chunk lists of files the remote holds as chunks, written once their chunks are here
        self.task = progress.task(f"fetch from {remote.name}", None, unit="files", total_bytes=0)
        self.landing = _Landing(ws.store, pack_small)
        self.batch = BATCH  # files a batch
        # a cache that already packs many objects: their ids in a set (~100 bytes each), since a
        # batch's random ids are each a binary search in the multi-pack index (a fetch with
        # nothing to do at 1M: 1M searches, ~70% of its time)
        self._many_packed = ws.store.packs.count() >= _SET_AT
        self._packed: set[bytes] | None = None

    def first_time(self, oid: str) -> bool:
        key = bytes.fromhex(oid)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def files(self, items: list[tuple[str, str]], frontier: list) -> None:
        """Fetch a batch of objects that are not trees (the files of whole folders, chunks);
        the chunks of files the remote holds as chunks join `frontier`. The staged paths of
        the batch's folders are forgotten after it."""
        if items:
            batch = [(k, o) for k, o in dict.fromkeys(items) if self.first_time(o)]
            if self._many_packed and self._packed is None:
                self._packed = self.ws.store.packs.id_set()  # objects packed since: met already (seen)
            need = _absent(self.ws.store, sorted(o for _, o in batch), self._packed)
            self.result.skipped += len(batch) - len(need)
            need = _chunked(self.ws, self.remote, batch, need, self.lists, frontier, self.landing.chunks)
            wanted, spanned = self.transfer(need)
            if spanned > _SPREAD * wanted:
                # the remote's packs do not keep folders together (written in id order, by a
                # cairn before issue 22 or from a cache of loose objects): each batch would read
                # most of every pack again, so the rest of the fetch goes in one batch a level
                self.batch = sys.maxsize
        if self.staging is not None:
            self.staging.batch_done()

    def transfer(self, oids: list[str]) -> tuple[int, int]:
        return _fetch_objects(
            self.ws,
            self.remote,
            oids,
            self.result,
            self.lost,
            self.intact if self._damaged else None,
            self.task,
            self.staging,
            self.landing,
        )


class _Landing:
    """Where fetched objects go: chunks into new local packs, and (when `pack_small`) every
    other object below SMALL_PACKED bytes too, as `add` stores them; larger ones loose. Trees
    are held until `write_trees`."""

    def __init__(self, store: ObjectStore, pack_small: bool) -> None:
        self.store = store
        self.pack_small = pack_small
        self.chunks: set[str] = set()
        self.trees: set[str] = set()  # ids met as trees so far
        self.held: dict[str, bytes] = {}  # trees fetched, in the order they arrived
        self.kids: dict[str, list[str]] = {}  # tree -> its subtrees (every tree read, held or not)
        self.packs = store.packs.writer()

    def add_absent(self, data: bytes | memoryview, oid: str) -> None:
        if oid in self.trees:
            self.held[oid] = bytes(data)
        elif oid in self.chunks or (self.pack_small and len(data) < SMALL_PACKED):
            self.packs.add(oid, data)
        else:
            self.store.add_absent(data, oid)

    def hold_file(self, tmp: str, oid: str) -> None:
        """A tree that travelled loose (2 MiB or more): held like the others."""
        with open(tmp, "rb") as f:
            self.held[oid] = f.read()

    def write_trees(self, failed: set[str]) -> None:
        """Write the held trees, each after its subtrees, leaving out those with something
        below them in `failed` (not stored: corrupt or missing on the remote)."""
        bad = self._incomplete(failed) if failed else set()
        done: set[str] = set()
        for top in list(self.held):
            stack = [(top, False)]
            while stack:
                oid, expanded = stack.pop()
                if oid in done:
                    continue
                if not expanded:
                    stack.append((oid, True))
                    stack.extend((k, False) for k in self.kids.get(oid, ()) if k in self.held and k not in done)
                    continue
                done.add(oid)
                if oid not in bad:
                    self.store.add_bytes(self.held[oid], oid)

    def _incomplete(self, failed: set[str]) -> set[str]:
        """Trees read by this fetch with a failed object below them (only after a failure:
        every tree is parsed again)."""
        parents: dict[str, list[str]] = defaultdict(list)
        for parent, subtrees in self.kids.items():
            for k in subtrees:
                parents[k].append(parent)
        bad: set[str] = set()
        for oid in {*self.kids, *self.held}:
            data = self.held.get(oid)
            try:
                if data is None:
                    data = self.store.read(oid)
                if any(e.oid in failed for e in Tree.from_bytes(data, oid).entries):
                    bad.add(oid)
            except (OSError, CorruptObjectError, ObjectMissingError):
                bad.add(oid)
        bad |= failed & self.trees
        stack = list(bad)
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in bad:
                    bad.add(p)
                    stack.append(p)
        return bad


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


def _absent(store: ObjectStore, oids: list[str], packed: set[bytes] | None = None) -> list[str]:
    """The objects of `oids` the cache lacks. Many at once: a fan-out folder of the cache is
    listed (one call) rather than each of its candidates stat-ed, unless it holds many more
    objects than candidates. `packed`: the ids of the packed objects, when the caller has them."""
    if len(oids) < 256:
        if packed is not None:
            return [o for o in oids if bytes.fromhex(o) not in packed and not store.exists(o)]
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
    rest = [o for o in oids if o not in present]
    if packed is not None:
        return [o for o in rest if bytes.fromhex(o) not in packed]
    where = store.packs.locate_many(rest) if rest else {}
    return [o for o in rest if o not in where]


def _fetch_objects(
    ws: Workspace,
    remote: Remote,
    oids: list[str],
    result: TransferResult,
    lost: list[str],
    intact: list[str] | None,
    task,
    staging: Staging | None,
    landing: _Landing,
) -> tuple[int, int]:
    """Fetch `oids`; (bytes wanted from packs, bytes their range requests span)."""
    if not oids:
        return 0, 0
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
    wanted = sum(r[2] for w in work if w[0] == "piece" for r in w[2])
    spanned = sum(w[2][-1][1] + w[2][-1][2] - w[2][0][1] for w in work if w[0] == "piece")

    def get(w: tuple):
        if w[0] == "loose":
            return 1, remote.fetch_loose(ws.store, w[1], landing.hold_file if w[1] in landing.trees else None)
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
    if intact is not None:
        intact.extend(o for o in where if o not in failed)
    return wanted, spanned


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
