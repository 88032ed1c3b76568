"""`cairn checkout`: make the workspace match the pointers, never destroying data that
exists nowhere else."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cairn.errors import ObjectMissingError, PathError, WouldLoseDataError, shown
from cairn.index import pointer as ptr
from cairn.index import safepath
from cairn.index.statcache import stamp
from cairn.objects import localpacks
from cairn.objects.tree import FILE, TREE, Entry, diff_trees, walk_files
from cairn.workspace import linking, unpacking
from cairn.workspace.context import Workspace, data_rel

_BATCH = 128
# one thread per core: more only trade the GIL back and forth (futex storms measured with strace)
_WORKERS = max(2, os.cpu_count() or 1)


@dataclass
class CheckoutResult:
    path: str
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    link: str = "copy"
    folders: list[str] = field(default_factory=list)  # empty folders created or removed


@dataclass
class _Plan:
    rel: str
    pointer: ptr.Pointer
    write: list[tuple[str, Entry]] = field(default_factory=list)  # repo-relative path, entry
    remove: list[str] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)  # empty folders of the version
    rmdirs: list[str] = field(default_factory=list)  # folders the version lacks
    replace_root: bool = False  # the workspace holds a file where a folder belongs, or back


def plan(ws: Workspace, pointer_rel: str, force: bool) -> _Plan:
    p = ws.load_pointer(pointer_rel)
    return plan_version(ws, data_rel(pointer_rel, p), p, force)


def plan_version(ws: Workspace, rel: str, p: ptr.Pointer, force: bool) -> _Plan:
    """Decide what to write and remove so `rel` becomes version `p`, refusing (unless force)
    to destroy uncached data."""
    _check_target(ws, rel, p)
    work = _Plan(rel, p)
    links = ws.links(p.follow_symlinks)
    snap = ws.walk(rel, links)
    if snap is not None:
        ws.stats.update(snap.records, snap.keep, snap.seals)
    load = ws.tree_loader(snap.trees if snap else {})
    at_risk: list[str] = []

    def guard(path: str, entry: Entry | None) -> None:
        if entry is not None and not ws.store.exists(entry.oid):
            at_risk.append(path)

    if snap is not None and snap.kind == p.kind == FILE:
        if snap.oid != p.oid or snap.exec != p.exec:
            if snap.oid != p.oid:
                guard(rel, Entry(rel, FILE, snap.oid, snap.size))
            work.write.append((rel, Entry(p.path, FILE, p.oid, p.size, p.exec)))
    elif snap is None or snap.kind != p.kind:
        if snap is not None:
            work.replace_root = True
            if snap.kind == FILE:
                guard(rel, Entry(rel, FILE, snap.oid, snap.size))
            else:
                for path, e in walk_files(snap.oid, load, rel + "/"):
                    guard(path, e)
        if p.kind == FILE:
            work.write.append((rel, Entry(p.path, FILE, p.oid, p.size, p.exec)))
        else:
            loader = _loading(ws, ws.tree_loader(), rel)
            work.write.extend(walk_files(p.oid, loader, rel + "/"))
            _folder_changes(None, p.oid, loader, rel, work)
    else:
        loader = _loading(ws, load, rel)
        for ch in diff_trees(snap.oid, p.oid, loader, rel + "/"):
            if ch.old is not None:
                guard(ch.path, ch.old)
            if ch.new is not None:
                work.write.append((ch.path, ch.new))
            else:
                work.remove.append(ch.path)
        _folder_changes(snap.oid, p.oid, loader, rel, work)
    if snap is not None and snap.skipped:
        _unlink_in_the_way(snap.skipped, work)
    if at_risk and not force:
        shown = ", ".join(at_risk[:5]) + (f" and {len(at_risk) - 5} more" if len(at_risk) > 5 else "")
        raise WouldLoseDataError(
            f"checkout would overwrite or delete {len(at_risk)} file(s) whose content is not in the cache: {shown}",
            f"keep the changes with `cairn add {rel}`, or discard them with `cairn checkout --force`",
            at_risk,
        )
    missing = ws.store.missing(e.oid for _, e in work.write)
    if missing:
        raise ObjectMissingError(
            f"{len(missing)} object(s) needed for {rel} are not in the cache",
            "run `cairn pull` to fetch them from the remote",
            missing,
        )
    return work


def _unlink_in_the_way(skipped, work: _Plan) -> None:
    """A link the walk skipped (one leading out of the repository, say) where the version has a
    file or folder is replaced, not written through: the link goes, its target stays untouched."""
    wanted = {path for path, _ in work.write} | set(work.mkdirs)
    wanted |= {path[:i] for path in list(wanted) for i, c in enumerate(path) if c == "/"}
    work.remove.extend(s.path for s in skipped if s.path in wanted)


def _check_target(ws: Workspace, rel: str, p: ptr.Pointer) -> None:
    """Refuse, before anything is written, a path that would put data outside the repository:
    one no pointer or lock written by cairn holds (`..`, absolute, inside .git/), or one below a
    symbolic link leading out of it (git itself never writes through a link either)."""
    wrong = safepath.problem(rel)
    if wrong:
        raise PathError(
            f"cannot check out {shown(rel)}: the path {wrong}",
            "the pointer or cairn.lock entry naming it was not written by cairn; fix or delete it",
        )
    # a pointer added with --follow-symlinks asked for links leading out to be followed
    link = None if p.follow_symlinks else safepath.outside_link(ws.root, rel, itself=p.kind == TREE)
    if link:
        raise PathError(
            f"cannot check out {rel}: {link} is a symbolic link leading outside the repository, "
            "and checkout does not write through it",
            f"replace the link with a folder (`rm {link}`), then run `cairn checkout` again",
        )


def _folder_changes(old: str | None, new: str, load, path: str, work: _Plan) -> None:
    """Empty folders of tree `new` to create, and folders of tree `old` (the workspace) to remove.

    Files alone do not carry folders: writing creates only their parents, and removing prunes only
    the folders it empties. Without this pass an empty folder would never be restored (or a stray
    one removed) and `status` would report a change that `checkout` never fixes."""
    if old == new:
        return
    old_t = load(old) if old else None
    new_t = load(new)
    if not new_t.entries:
        work.mkdirs.append(path)
    for e in new_t.entries:
        if e.kind == TREE:
            o = old_t.get(e.name) if old_t is not None else None
            _folder_changes(o.oid if o is not None and o.kind == TREE else None, e.oid, load, f"{path}/{e.name}", work)
    for e in old_t.entries if old_t is not None else ():
        b = new_t.get(e.name)
        if e.kind == TREE and (b is None or b.kind != TREE):
            work.rmdirs.extend(f"{path}/{d}" for d in _subfolders(e.oid, load, e.name))


def _subfolders(oid: str, load, name: str) -> list[str]:
    """`name` and every folder below it, as paths relative to the folder holding `name`."""
    out = [name]
    for e in load(oid).entries:
        if e.kind == TREE:
            out.extend(_subfolders(e.oid, load, f"{name}/{e.name}"))
    return out


def _loading(ws: Workspace, load, rel: str):
    """A tree loader whose missing-object error names the tracked path and the fix."""

    def wrapped(oid: str):
        try:
            return load(oid)
        except ObjectMissingError as e:
            raise ObjectMissingError(
                f"the version of {rel} in its pointer is not in the cache (tree {oid[:12]} missing)",
                "run `cairn pull` to fetch it from the remote",
                e.oids,
            ) from None

    return wrapped


def apply(ws: Workspace, work: _Plan, kind: str) -> CheckoutResult:
    result = CheckoutResult(work.rel, link=kind)
    root = ws.abs(work.rel)
    if work.replace_root:
        if root.is_dir() and not root.is_symlink():
            shutil.rmtree(root)
        else:
            root.unlink()
    for path in work.remove:
        try:
            os.unlink(ws.abs(path))
        except FileNotFoundError:
            pass
        result.removed.append(path)
    if work.remove:
        _prune_empty(ws, work)
    for d in sorted(work.rmdirs, key=len, reverse=True):  # children first
        try:
            os.rmdir(ws.abs(d))
        except OSError:
            continue  # not empty: it holds ignored files, which are not ours to delete
        result.folders.append(d)
    if work.pointer.kind == TREE:
        for d in work.mkdirs:
            if not ws.abs(d).is_dir():
                result.folders.append(d)
        dirs = {path.rpartition("/")[0] for path, _ in work.write} | {work.rel, *work.mkdirs}
        for d in sorted(dirs):
            p = ws.abs(d)
            if p.exists() and not p.is_dir():
                p.unlink()  # a file now stands where the version has a folder
            p.mkdir(parents=True, exist_ok=True)
    else:
        root.parent.mkdir(parents=True, exist_ok=True)
    os.makedirs(ws.tmp, exist_ok=True)
    task = ws.progress.task(f"checkout {work.rel}", len(work.write))
    tmp_base = str(ws.tmp / f"co.{os.getpid()}")
    store, rootdir = ws.store, str(ws.root)

    copied: list[int] = []  # files written as copies although `kind` links (list.append: thread-safe)

    def run(batch: list) -> list[tuple[str, int, int, int, str]]:
        if batch and len(batch[0]) == 2:  # objects of one pack: one read (workspace/unpacking.py)
            copied.append(len(batch))  # a packed object is always copied
            return unpacking.restore(store, batch, rootdir, tmp_base, kind)
        rows = []
        for i, path, e in batch:
            dest = f"{rootdir}/{path}"
            st = linking.materialize(store, e.oid, dest, f"{tmp_base}.{i}", kind, e.exec, e.size)
            if st is None:  # linked
                st = os.stat(dest)
            else:  # a copy (a chunked or packed file has no whole object to link to)
                copied.append(1)
            rows.append((path, st.st_ino, stamp(st), st.st_size, e.oid))
        return rows

    numbered = [(i, path, e) for i, (path, e) in enumerate(work.write)]
    packed, numbered = unpacking.split(store, numbered)
    batches: list[list] = localpacks.runs(packed, _BATCH)
    batches += [numbered[i : i + _BATCH] for i in range(0, len(numbered), _BATCH)]
    rows: list = []
    pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="cairn-checkout")
    try:
        for batch_rows in pool.map(run, batches):
            rows.extend(batch_rows)
            task.advance(len(batch_rows))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        ws.stats.update(rows)  # what was written stays known, even after an interruption
        task.close()
    result.written = [path for path, _ in work.write]
    if kind != "copy" and copied:  # say what was done, not what was configured
        result.link = "copy" if sum(copied) == len(work.write) else f"{kind} and copy"
    return result


def _prune_empty(ws: Workspace, work: _Plan) -> None:
    """Remove folders that the deletions left empty, inside the tracked folder only."""
    parents = sorted({p.rpartition("/")[0] for p in work.remove}, key=len, reverse=True)
    for d in parents:
        while d and d != work.rel and d.startswith(work.rel + "/"):
            try:
                os.rmdir(ws.abs(d))
            except OSError:
                break
            d = d.rpartition("/")[0]


def checkout(ws: Workspace, pointers: list[str], force: bool = False) -> list[CheckoutResult]:
    """Plan every path first, so a refusal or a missing object changes nothing at all."""
    return _apply_all(ws, [plan(ws, p, force) for p in pointers])


def checkout_versions(
    ws: Workspace, versions: list[tuple[str, ptr.Pointer]], force: bool = False
) -> list[CheckoutResult]:
    """Make each repo-relative path match a version that no pointer file names (the run-cache,
    an experiment)."""
    return _apply_all(ws, [plan_version(ws, rel, p, force) for rel, p in versions])


def checkout_all(
    ws: Workspace, pointers: list[str], versions: list[tuple[str, ptr.Pointer]], force: bool = False
) -> list[CheckoutResult]:
    """Pointers and unnamed versions (pipeline outputs) together: planned first, so a refusal or a
    missing object anywhere changes nothing."""
    plans = [plan(ws, p, force) for p in pointers] + [plan_version(ws, rel, p, force) for rel, p in versions]
    return _apply_all(ws, plans)


def _apply_all(ws: Workspace, plans: list[_Plan]) -> list[CheckoutResult]:
    if not any(w.write or w.remove or w.replace_root or w.mkdirs or w.rmdirs for w in plans):
        return [CheckoutResult(w.rel) for w in plans]
    kind = linking.choose(ws.link_types, ws.store, str(ws.tmp))
    return [apply(ws, w, kind) for w in plans]
