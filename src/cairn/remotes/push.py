"""push: send what the roots reach and the remote lacks.

Only missing objects move. Small objects travel packed; large ones stream on their own. A push
trusts the local index of the remote while the remote's generation is unchanged (nothing was
deleted there since), so a push with nothing to do reads one small key and lists nothing.
Damage done to the remote outside cairn is found by fetch (which then forgets those objects) and
repaired by `push --verify`, which downloads and checks what it would otherwise skip."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from cairn.objects import pack
from cairn.objects.chunks import CHUNKED
from cairn.objects.store import Placed
from cairn.objects.tree import TREE
from cairn.progress import NULL, Progress
from cairn.remotes import records
from cairn.remotes.closure import Root, closure, roots_key
from cairn.remotes.lock import remote_lock
from cairn.remotes.pool import no_cyclic_gc, run_pool
from cairn.remotes.records import PushInfo
from cairn.remotes.remote import Remote, loose_key
from cairn.remotes.result import TransferResult
from cairn.remotes.verify import verify_held
from cairn.workspace.context import Workspace


def push(
    ws: Workspace,
    remote: Remote,
    roots: Iterable[Root],
    progress: Progress = NULL,
    verify: bool = False,
    info: PushInfo | None = None,
    lock_wait: float = 0,
    on_wait: Callable[[str], None] | None = None,
) -> TransferResult:
    """Send what `roots` reach and the remote lacks, then record the push (`info`) on the remote
    as a root record. Without `verify`, the local index of the remote is trusted while the
    remote's generation is unchanged; with it, the remote is listed and every index read again,
    and every object it claims is downloaded and checked, so lost or damaged copies are sent
    again (damaged ones are then removed from their packs).

    A push with work to do holds the remote's shared lock from before it lists the remote until
    its record is written, so a `gc --remote` cannot delete an object the push found there and
    did not send. A push with nothing to do takes no lock: its roots were complete, and
    recorded, at the generation the remote still has."""
    roots = sorted(set(roots))
    key = roots_key(roots)
    if not verify:
        known = remote.index.complete(key)
        if known is not None and remote.unchanged():
            return TransferResult(skipped=known)
    remote.prepare()
    who = info.who if info is not None else "cairn"
    with remote_lock(remote.storage, remote.name, False, who, lock_wait, on_wait), no_cyclic_gc():
        result = _push(ws, remote, roots, key, progress, verify)
        if info is not None and roots:
            marker = roots_key([*roots, *(("ref", r) for r in info.refs)])
            if not remote.index.recorded(marker):
                records.write(remote.storage, info, roots)
                remote.index.set_recorded(marker)
    return result


def _push(ws: Workspace, remote: Remote, roots: list[Root], key: str, progress: Progress, verify: bool):
    wanted, lacking = closure(ws, roots)
    remote.refresh(create=True, rescan=verify)
    result = TransferResult()
    damaged_in: dict[str | None, list[str]] = defaultdict(list)
    if verify:
        result.verified, damaged_in = verify_held(ws, remote, sorted(set(wanted) & remote.index.all_oids()), progress)
    else:
        # copies a fetch from this clone found damaged: sent again below, then taken off their packs
        for oid, pack_id in remote.index.damaged().items():
            if oid in wanted and pack_id is not None:
                damaged_in[pack_id].append(oid)
    have = remote.index.all_oids()
    # trees get packs of their own: fetch reads trees level by level, so a few tree-only packs
    # serve every level instead of ranges scattered over all the data packs
    trees: list[tuple[str, int]] = []
    files: list[tuple[str, int]] = []
    todo_large: list[tuple[str, int]] = []
    lists: list[str] = []  # files held as chunks: their lists go once their chunks are there
    for oid, (kind, size) in wanted.items():  # walk order: read_plan orders the files, trees are sorted below
        if oid in have or (kind == CHUNKED and oid in remote.chunk_lists):
            result.skipped += 1
            continue
        if kind == CHUNKED:
            lists.append(oid)
            continue
        if size is None:  # a tree or a root; files are found missing while packing (no stat each)
            try:
                size = ws.store.size(oid)
            except FileNotFoundError:
                result.missing.append(oid)
                continue
        (todo_large if size >= pack.PACK_THRESHOLD else trees if kind == TREE else files).append((oid, size))
    trees.sort()
    result.missing.extend(o for o in lacking if o not in have and o not in result.missing)
    todo_bytes = sum(n for _, n in trees) + sum(n for _, n in files) + sum(n for _, n in todo_large)
    task = progress.task(
        f"push to {remote.name}", len(trees) + len(files) + len(todo_large), unit="files", total_bytes=todo_bytes
    )
    # files in the cache's read order (by local pack and offset, issue 22): each remote pack is
    # then read from a stretch of one local pack; trees are loose and stay in id order
    placed, pack_ids = ws.store.read_plan(files)
    del files
    groups = pack.group_pairs([(o, n, -1, 0) for o, n in trees], remote.pack_target)
    groups += pack.group_pairs(placed, remote.pack_target)
    del trees, placed
    # what was sent goes into the index after the transfers, in one transaction: a row written
    # while they run waits for the GIL (9 us a row at 200k objects against ~3 after; a killed
    # push loses only rows that the rerun reads back from the pack indexes it lists)
    sent_packs: list[tuple[str, int, list]] = []
    sent_loose: list[tuple[str, int]] = []

    def send_pack(group: list[Placed]):
        objects = [(o, n) for o, n, _, _ in group]
        where = {o: (pack_ids[p], off, n) for o, n, p, off in group if p >= 0}
        return "pack", [o for o, _ in objects], remote.upload_pack(ws.store, objects, where)

    def send_loose(item: tuple[str, int]):
        return "loose", [item[0]], remote.upload_loose(ws.store, item[0])

    def done(res) -> None:
        kind, oids, info = res
        if info is None:  # the cache had none of them
            result.missing.extend(oids)
            task.advance(len(oids))
            return
        if kind == "pack":
            _pack_id, size, rows = info
            sent_packs.append(info)
            if len(rows) < len(oids):
                packed = {r[0] for r in rows}
                result.missing.extend(o for o in oids if o not in packed)
            sent = len(rows)
        else:
            size, sent = info, 1
            sent_loose.append((oids[0], size))
        result.bytes += size
        result.transferred += sent
        task.advance(len(oids), nbytes=size)

    try:
        # large files first: their streams overlap with the pack uploads that follow
        work = [(send_loose, item) for item in todo_large] + [(send_pack, g) for g in groups]
        run_pool(remote.jobs, work, lambda w: w[0](w[1]), done)
    finally:
        task.close()
        remote.index.add_sent(sent_packs, sent_loose)
    _send_lists(ws, remote, lists, result)
    result.missing.sort()
    if not verify and damaged_in:  # a plain push rewrites only packs whose damaged copies it has just replaced
        sent = {p[0] for g in groups for p in g}
        damaged_in = {p: bad for p, bad in damaged_in.items() if any(o in sent for o in bad)}
    # a pack sent under the id of a damaged one (the same rows: a damaged object alone in its pack,
    # sent again alone) replaced its bytes with good ones: deleting it would delete the good copy
    resent = {s[0] for s in sent_packs} & damaged_in.keys()
    if resent:
        remote.index.mark_good([o for p in resent for o in damaged_in[p]])
        damaged_in = {p: bad for p, bad in damaged_in.items() if p not in resent}
    if damaged_in:
        _remove_damaged(ws, remote, damaged_in, {o for o, _ in todo_large} if verify else None)
    elif not result.missing and not lacking:
        remote.index.set_complete(key, len(wanted))
    return result


def _send_lists(ws: Workspace, remote: Remote, lists: list[str], result: TransferResult) -> None:
    """Chunk lists go last, and only for files whose every chunk is now on the remote: a list on
    the remote promises its file whole (a killed push leaves chunks, which the rerun skips)."""
    if not lists:
        return
    have = remote.index.all_oids()
    for oid in lists:
        cl = ws.store.chunk_list(oid)
        if cl is None or not cl.ids() <= have:
            result.missing.append(oid)
            continue
        result.bytes += remote.upload_list(ws.store, oid)
        result.transferred += 1


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
