"""`cairn add`: put files and folders into the cache and write their pointer files."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

from cairn.errors import CairnError, OverlapError, PathError
from cairn.index import pointer as ptr
from cairn.index.snapshot import Snapshot, snapshot
from cairn.index.symlinks import DANGLING, OUTSIDE, PRIVATE, read_link
from cairn.objects.hashing import hash_mapped
from cairn.objects.tree import FILE, Tree
from cairn.workspace import linking
from cairn.workspace.context import Workspace, pointer_rel_for
from cairn.workspace.gitignore import ignore_in_git


@dataclass
class AddResult:
    path: str
    pointer: str
    oid: str
    kind: str
    size: int
    files: int
    hashed: int  # files that had to be read (the rest came from the stat cache)
    link: str
    changed: bool  # the pointer is new or different
    # symbolic links inside that were not followed: {"path", "reason", "target"}, by path
    skipped: list[dict[str, str]] = field(default_factory=list)
    follow_symlinks: bool = False  # links leaving the repository were followed (and stay so)


def check_addable(
    ws: Workspace, rel: str, git_tracked: Callable[[str], list[str]] | None, follow_symlinks: bool | None = None
) -> None:
    """Refuse paths that cannot be tracked, with the fix in the hint."""
    if rel.endswith(ptr.SUFFIX):
        raise PathError(f"{rel} is a pointer file", f"add the data it points to: cairn add {rel[: -len(ptr.SUFFIX)]}")
    if not os.path.lexists(ws.abs(rel)):
        raise PathError(f"{rel} does not exist", "check the path (it is relative to where you are)")
    _check_target(ws, rel, follows(ws, rel, follow_symlinks))
    if any(c in rel.rpartition("/")[2] for c in "\r\n"):
        # a .gitignore line cannot hold it, so git would not ignore the data
        raise PathError(f"{rel!r} has a line break in its name", "rename it, then add it")
    # Tracked ancestor: `data` is tracked and the user adds `data/sub`.
    parts = rel.split("/")
    for i in range(1, len(parts)):
        anc = "/".join(parts[:i])
        if os.path.exists(ws.abs(pointer_rel_for(anc))):
            raise OverlapError(
                f"{rel} is inside {anc}, which is already tracked ({anc}{ptr.SUFFIX})",
                f"re-add the whole folder instead: cairn add {anc}",
            )
    if git_tracked is not None:
        tracked = git_tracked(rel)
        inner = sorted(t for t in tracked if t.endswith(ptr.SUFFIX))
        if inner:
            # the overlap is the real problem: `git rm -r --cached` would also untrack the pointer
            raise OverlapError(
                f"{rel} contains {inner[0]}, which is tracked on its own",
                f"remove that pointer first (git rm {inner[0]}) and then add {rel}",
            )
        if tracked:
            raise PathError(
                f"git already tracks {tracked[0]}" + (f" and {len(tracked) - 1} more" if len(tracked) > 1 else ""),
                f"stop tracking it in git first: git rm -r --cached {rel}",
            )


def follows(ws: Workspace, rel: str, follow_symlinks: bool | None) -> bool:
    """Whether adding `rel` follows links out of the repository: as asked, else as last time."""
    if follow_symlinks is not None:
        return follow_symlinks
    try:
        return ptr.load(ws.abs(pointer_rel_for(rel))).follow_symlinks
    except (FileNotFoundError, CairnError):
        return False


def _check_target(ws: Workspace, rel: str, follow_all: bool) -> None:
    """The path itself (or a folder on the way to it) may be a link: it must stay in the
    repository unless links are followed everywhere."""
    path = str(ws.abs(rel))
    reason, real = ws.links(follow_all).resolve(path)
    if reason is None:
        return
    if reason == DANGLING:
        raise PathError(
            f"{rel} is a symbolic link to {read_link(path) or real}, which does not exist",
            "point the link at the data, or remove it",
        )
    if reason == PRIVATE:
        raise PathError(
            f"{rel} leads into .git/ or .cairn/ ({real}), which git and cairn manage themselves",
            "track data outside .cairn/ and .git/",
        )
    if reason == OUTSIDE:
        raise PathError(
            f"{rel} is a symbolic link to {real}, outside the repository; cairn does not copy "
            "data from outside the repository unless told to",
            f"to store what it points to in the cache (and push it to remotes): cairn add --follow-symlinks {rel}",
        )


def _no_pointers_inside(rel: str):
    # Tracked descendant: `data/sub` is tracked and the user adds `data`. Checked on the walk
    # that add makes anyway, before anything is read or stored.
    def check(snap: Snapshot) -> None:
        if snap.pointers:
            inner = min(snap.pointers)
            raise OverlapError(
                f"{rel} contains {inner}, which is tracked on its own",
                f"remove that pointer first (git rm {inner}) and then add {rel}",
            )

    return check


def add(ws: Workspace, rel: str, follow_symlinks: bool | None = None) -> AddResult:
    """Cache `rel` and write its pointer. Links inside that leave the repository are followed
    only with `follow_symlinks` (None: as the existing pointer says); the skipped are reported."""
    follow = follows(ws, rel, follow_symlinks)
    snap, kind = commit(ws, rel, before_hashing=_no_pointers_inside(rel), follow_symlinks=follow)
    pointer_rel = pointer_rel_for(rel)
    new = ptr.Pointer(rel.rpartition("/")[2], snap.kind, snap.oid, snap.size, snap.files, snap.exec, follow)
    pfile = ws.abs(pointer_rel)
    try:
        changed = ptr.load(pfile) != new
    except (FileNotFoundError, CairnError):
        changed = True
    if changed:
        ptr.save(pfile, new)
    ignore_in_git(ws.root, rel)
    skipped = [s.to_dict() for s in sorted(snap.skipped, key=lambda s: s.path)]
    return AddResult(
        rel, pointer_rel, snap.oid, snap.kind, snap.size, snap.files, snap.hashed, kind, changed, skipped, follow
    )


def commit(
    ws: Workspace,
    rel: str,
    kind: str | None = None,
    before_hashing: Callable[[Snapshot], None] | None = None,
    follow_symlinks: bool = False,
) -> tuple[Snapshot, str]:
    """Put `rel` into the cache (one read per changed file, links per cache.type) and return
    its snapshot and the link type used; writes no pointer (pipelines record outs in the lock)."""
    kind = kind or linking.choose(ws.link_types, ws.store, str(ws.tmp))
    ws.store.prepare()
    store_fn = _store_fn(ws, kind)
    if kind == "hardlink":
        store_fn, before_hashing = _copy_linked(ws, store_fn, before_hashing)
    links = ws.links(follow_symlinks)
    sealed: list[bool] = []

    def store_tree(oid: str, data: bytes) -> None:
        # a tree whose files this add stored: written as it is made, once the packs holding them
        # are sealed (every file is stored by now), so the add holds no tree bytes (issue 22)
        if not sealed:
            ws.store.seal_packs()
            sealed.append(True)
        ws.store.add_bytes(data, oid)

    # copy mode packs small files (objects/localpacks.py); a link needs a file of its own
    with ws.store.packing() if kind == "copy" else nullcontext():
        snap = snapshot(
            ws.abs(rel),
            rel,
            ws.stats,
            ws.ignore,
            store_fn,
            ws.progress,
            before_hashing,
            links,
            ws.store.exists,
            ws.walk_split_files,
            ws.hash_split_files,
            ws.store,
            fresh=kind in ("hardlink", "symlink"),  # what _link_workspace replaces by links
            store_tree=store_tree,
        )
        if snap is None:
            raise PathError(f"{rel} does not exist", "check the path")
        if snap.kind == FILE and snap.hashed == 0 and not ws.store.exists(snap.oid):
            # the stat cache knew the file but its object left the cache (gc, a new cache dir)
            snap = Snapshot(FILE, store_fn(str(ws.abs(rel)), snap.size), snap.size, 1, snap.exec)
        known = {oid for oid in snap.trees if ws.store.exists(oid)} | snap.reused  # sealed: in the cache
        if snap.kind != FILE and snap.hashed < snap.files:
            _store_missing_files(ws, rel, snap, store_fn, known)
    # trees only once the packs holding their files are sealed: a tree in the cache vouches for
    # every file below it (`known` above), so a kill must never leave a tree without its files
    # (those of folders whose files were all stored here went to store_tree as they were made)
    for oid, data in snap.trees.items():
        if oid not in known:
            ws.store.add_bytes(data, oid)
    # the walk's rows come folder by folder, each marshalled already (statcache.Rows)
    records, seals = snap.records, snap.seals
    if kind in ("hardlink", "symlink"):
        records, seals = _link_workspace(ws, rel, snap, kind), None  # linking changed the stats sealed
    ws.stats.update(records, snap.keep, seals)
    return snap, kind


def _store_fn(ws: Workspace, kind: str):
    store = ws.store
    if kind == "hardlink":

        def hardlink_in(path: str, size: int) -> str:
            if os.path.islink(path):  # `cairn add link`: a hard link would be to the link itself
                return store.add_file_copy(path, size, chunk=False)
            oid = hash_mapped(path)  # the file becomes the object: see hash_mapped
            if not store.add_file_link(path, oid):
                return store.add_file_copy(path, size, chunk=False)
            return oid

        return hardlink_in
    if kind == "reflink":

        def reflink_in(path: str, size: int) -> str:
            oid = hash_mapped(path)  # cloned into the object as it is: see hash_mapped
            if not store.exists(oid):
                tmp = store.tmp_path()
                linking.reflink(path, tmp)
                os.chmod(tmp, 0o444)
                store.publish(tmp, oid)
            return oid

        return reflink_in
    if kind == "symlink":
        # link modes keep files whole, so the workspace can share them (docs/chunks.md)
        return lambda path, size: store.add_file_copy(path, size, chunk=False)
    return store.add_file_copy


def _copy_linked(ws: Workspace, store_fn, before_hashing: Callable[[Snapshot], None] | None):
    """Files reached through a user's link are copied into the cache, not hard-linked: the
    link's target is not ours to make read-only (and a hard link to a link would be a link)."""
    linked: set[str] = set()
    copy = ws.store.add_file_copy

    def note(snap: Snapshot) -> None:
        linked.update(f"{ws.root}/{r}" for r in snap.linked)
        if before_hashing is not None:
            before_hashing(snap)

    def store(path: str, size: int) -> str:
        return copy(path, size) if linked and path in linked else store_fn(path, size)

    return store, note


def _store_missing_files(ws: Workspace, rel: str, snap: Snapshot, store_fn, known: set[str]) -> None:
    """Files the stat cache vouched for must still have their object (gc or a new cache dir may
    have dropped it). Trees already in the cache were stored with all their files: skip them."""
    stack = [(snap.oid, ws.abs(rel))]
    while stack:
        oid, folder = stack.pop()
        if oid in known:
            continue
        entries = Tree.from_bytes(snap.trees[oid], oid).entries
        # small files are packed: one lookup in the pack index for the folder's files, then
        # the full check (a stat each) only for those not found there (W3: 1,000 files of the
        # folder that changed, 3.5 -> 1.8 ms)
        packed = ws.store.packs.locate_many(e.oid for e in entries if e.kind == FILE)
        for e in entries:
            if e.kind == FILE:
                if e.oid not in packed and not ws.store.exists(e.oid):
                    store_fn(str(folder / e.name), e.size)
            else:
                stack.append((e.oid, folder / e.name))


def _link_workspace(ws: Workspace, rel: str, snap: Snapshot, kind: str):
    """Make hashed workspace files links to their cache objects; returns fresh stat rows.
    Files reached through a user's link stay as they are: the link's target is not ours to replace."""
    linked = snap.linked
    records = [row for row in snap.records if row[0] in linked] if linked else []
    os.makedirs(ws.tmp, exist_ok=True)
    tmp = str(ws.tmp / f"link.{os.getpid()}")
    for r, oid in snap.fresh:
        if r in linked:
            continue
        dest = str(ws.root / r)
        obj = ws.store.path(oid)
        if not os.path.exists(obj):  # held as chunks: the workspace file stays the copy it is
            records.append(ws.stats.record_file(r, dest, oid))
            continue
        if kind == "hardlink" and os.path.samefile(dest, obj):
            records.append(ws.stats.record_file(r, dest, oid))
            continue
        linking.materialize(ws.store, oid, dest, tmp, kind)
        records.append(ws.stats.record_file(r, dest, oid))
    return records
