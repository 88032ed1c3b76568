"""Snapshots of workspace paths: walk once, take ids from the stat cache, hash only files
whose (inode, mtime_ns, size) changed, and build the tree objects in memory.

The walk is one `os.scandir` pass; hashing of changed files runs on a thread pool (BLAKE3 and
file I/O release the GIL) in batches, so per-file Python overhead stays small, and a big add's
is split over helper processes as well (index/hashpending.py). A folder of files
whose stat rows match its seal (index/statcache.py) is taken whole from the seal when the caller
says its tree is in the cache (`have_tree`): no per-file entries, no tree to encode. A big
no-op walk has helper processes check shares of the sealed folders (index/scan.py, `split`).
"""

from __future__ import annotations

import gc
import os
import stat as stat_mod
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from blake3 import blake3

from cairn.errors import PathError
from cairn.index import forked
from cairn.index.hashpending import HashFn, Shares, hash_guarded, hash_pending
from cairn.index.hashpending import denied as _denied
from cairn.index.ignore import Ignore
from cairn.index.pointer import SUFFIX
from cairn.index.scan import Listing, kept_fingerprint, scan, split
from cairn.index.statcache import Rows, Seal, StatCache, stamp
from cairn.index.symlinks import DANGLING, LOOP, LinkPolicy, Skipped, holds, read_link
from cairn.objects.hashing import hash_file
from cairn.objects.tree import FILE, TREE, encode_rows
from cairn.progress import NULL, Progress

_RACY_NS = 20_000_000  # files changed this recently are not trusted to the stat cache
# folders listed and stat-ed ahead of the walk on a thread (the stat calls release the GIL
# while the walk compares): few, as each holds a folder's entries and stats in memory
_AHEAD = 4
_SCANNERS = 2  # more only help a cold cache, where each stat waits on the disk
_by_name = itemgetter(0)


@dataclass
class Snapshot:
    """A workspace path as cairn sees it right now."""

    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False
    trees: dict[str, bytes] = field(default_factory=dict)  # encoded tree objects below, by id
    hashed: int = 0  # files that had to be read
    records: Rows = field(default_factory=Rows)  # new stat rows, folder by folder
    keep: dict[str, set[str]] = field(default_factory=dict)  # folders whose stat rows went stale
    # (rel, oid) of every hashed file, in walk order (unless the caller said it has no use for them)
    fresh: list[tuple[str, str]] = field(default_factory=list)
    pointers: list[str] = field(default_factory=list)  # pointer files found inside (tracked on their own)
    skipped: list[Skipped] = field(default_factory=list)  # symbolic links not followed
    linked: set[str] = field(default_factory=set)  # files reached through a followed link
    seals: dict[str, Seal] = field(default_factory=dict)  # new seals of folders of files (statcache)
    reused: set[str] = field(default_factory=set)  # trees taken from a seal: in the cache, not in `trees`


class _Dir:
    __slots__ = ("entries", "files", "folder", "fp", "parent", "pending", "sealed", "slot", "stored")

    def __init__(self, parent: _Dir | None, slot: int) -> None:
        # entries: [name, kind, oid|None, size, exec, child _Dir|None], and a file to hash has its
        # folder's path seventh (hashpending.Pending)
        self.entries: list[list] = []
        self.pending = range(0)  # its files to hash: these rows of the walk's `pending`
        self.files = 0
        self.folder = ""
        self.parent = parent
        self.slot = slot
        self.fp: bytes | None = None  # fingerprint of its files, when it holds only files (none racy)
        self.sealed: Seal | None = None  # the matching seal: the folder is not walked further
        self.stored = False  # its tree is in the cache (taken from its seal, or given to `store_tree`)


def _same(rec: tuple | None, st: os.stat_result) -> bool:
    return rec is not None and rec[0] == st.st_ino and rec[1] == stamp(st) and rec[2] == st.st_size


def snapshot(
    path: Path,
    rel: str,
    stats: StatCache,
    ignore: Ignore | None = None,
    hash_fn: HashFn = lambda p, size: hash_file(p),
    progress: Progress = NULL,
    before_hashing: Callable[[Snapshot], None] | None = None,
    links: LinkPolicy | None = None,
    have_tree: Callable[[str], bool] | None = None,
    split_files: int = 0,
    hash_split_files: int = 0,
    shares: Shares | None = None,
    fresh: bool = True,
    store_tree: Callable[[str, bytes], None] | None = None,
) -> Snapshot | None:
    """Snapshot `path` (repo-relative `rel`); None when it does not exist. With `have_tree`
    (is this tree object in the cache?), folders matching their seal are taken from it: their
    trees are then in `Snapshot.reused`, not in `Snapshot.trees`. `before_hashing` sees
    the walked snapshot (say, to refuse it) before any file is read or stored. Links inside a
    folder are followed as `links` allows (default: only those that stay inside `path`); the
    others are in `Snapshot.skipped`. `path` itself is followed wherever it leads: whoever
    names it decides (`cairn add` checks it first). With `have_tree` and `split_files` > 0, a
    tree whose sealed folders hold that many files or more has those folders checked by helper
    processes too (one per core, up to four), each taking a share; the result is the same.
    Without `fresh`, `Snapshot.fresh` of a folder stays empty (only a link mode's add uses it).
    `store_tree(oid, data)` (an add: `hash_fn` stored every file it hashed) takes the tree of each
    folder whose files were all hashed here and whose subfolders' trees are in the cache, as it is
    made, instead of holding it in `Snapshot.trees` (it goes to `reused`): a tree is then written
    only after every file below it is stored, and a million-file add holds no tree bytes."""
    start_ns = time.time_ns()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except PermissionError as e:
        raise _denied(path) from e
    if stat_mod.S_ISREG(st.st_mode):
        rec = stats.entry(rel)
        exe = bool(st.st_mode & 0o100)
        if _same(rec, st):
            return Snapshot(FILE, rec[3], st.st_size, 1, exe)
        task = progress.task(f"hashing {rel}", 1)
        oid = hash_guarded(hash_fn, str(path), st.st_size)
        task.advance()
        task.close()
        snap = Snapshot(FILE, oid, st.st_size, 1, exe, hashed=1, fresh=[(rel, oid)])
        if os.path.islink(path) and not (links is not None and links.is_cache_link(read_link(str(path)))):
            snap.linked.add(rel)  # a link the user made, not a checkout's link to a cache object
        if st.st_mtime_ns < start_ns - _RACY_NS:
            snap.records.append((rel, st.st_ino, stamp(st), st.st_size, oid))
        return snap
    if not stat_mod.S_ISDIR(st.st_mode):
        raise PathError(f"{rel} is neither a file nor a folder", "only files and folders can be tracked")

    # The walk allocates a few objects per file and no garbage: the cyclic GC would only re-scan
    # everything alive again and again (a third of a 20k-file walk, measured).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if links is None:
            links = LinkPolicy.within(path)
        return _snapshot_tree(
            path,
            rel,
            stats,
            ignore,
            hash_fn,
            progress,
            before_hashing,
            start_ns,
            links,
            have_tree,
            split_files,
            hash_split_files,
            shares,
            fresh,
            store_tree,
        )
    finally:
        if gc_was_enabled:
            gc.enable()


def _snapshot_tree(
    path: Path,
    rel: str,
    stats: StatCache,
    ignore: Ignore | None,
    hash_fn: HashFn,
    progress: Progress,
    before_hashing: Callable[[Snapshot], None] | None,
    start_ns: int,
    links: LinkPolicy,
    have_tree: Callable[[str], bool] | None,
    split_files: int,
    hash_split_files: int,
    shares: Shares | None,
    fresh: bool,
    store_tree: Callable[[str, bytes], None] | None,
) -> Snapshot:
    dirs: list[_Dir] = []
    # the entry of each file to hash (hashpending.Pending), folder by folder; None once its stat
    # row is made. Its inode and stamp are in the walk's arrays at the same place.
    pending: list[list | None] = []
    snap = Snapshot(TREE, "", 0, 0)
    seals = stats.seals(rel) if have_tree is not None else {}
    walk = _Walk(dirs, pending, stats, seals, have_tree, start_ns - _RACY_NS, ignore, snap, links)
    linked = os.path.islink(path)  # `cairn add link_to_folder`: the folder is not ours to relink
    # (seals are only kept for folders reached without a link)
    helpers: list[forked.Forked] = []
    if split_files > 0 and not linked:
        helpers, walk.shared, ahead = split(str(path), rel, seals, split_files, walk.cutoff, ignore)
        # beside helpers, or on a busy machine, threads listing ahead would only add GIL handovers
        # (at 200k files: 0.24-0.26 s of CPU in this process without them, 0.28-0.33 s with them)
        walk.prefetching = ahead
    try:
        walk.folder(str(path), rel, _Dir(None, -1), (), linked)
        if helpers:
            verified: set[str] = set()
            for h in helpers:
                verified.update(h.result())
            walk.finish(verified)
    finally:
        for h in helpers:
            h.close()
        walk.close()
    for folder in stats.folders(rel) - {d.folder for d in dirs}:
        snap.keep[folder] = set()  # a folder that is gone
    if before_hashing is not None:
        before_hashing(snap)
    if pending:
        hash_pending(pending, hash_fn, progress, rel, hash_split_files, shares)  # type: ignore[arg-type]
        snap.hashed = len(pending)
        if fresh:
            out = snap.fresh
            for d in dirs:
                prefix = d.folder + "/"
                out += [(prefix + e[0], e[2]) for e in pending[d.pending.start : d.pending.stop]]  # type: ignore[index]
    cutoff = start_ns - _RACY_NS
    inos, times, rows = walk.inos, walk.times, snap.records
    # Children were appended after their parents, so reversed order builds bottom-up.
    trees = snap.trees
    for d in reversed(dirs):
        if d.sealed is not None:
            _, oid, size, d.files = d.sealed
            d.stored = True
            snap.reused.add(oid)
            if d.parent is None:
                snap.oid, snap.size, snap.files = oid, size, d.files
            else:
                slot = d.parent.entries[d.slot]
                slot[2], slot[3] = oid, size
            continue
        entries = d.entries
        if d.pending:
            # its stat rows, marshalled now as the stat cache stores them (Rows): each file's
            # entry, ints and path go with the folder's tree (issue 22: ~500 bytes a file as
            # Record tuples, held until the end of the add)
            changed = {}
            for k in d.pending:
                e = pending[k]
                pending[k] = None
                mtime = times[2 * k]
                if mtime < cutoff:
                    changed[e[0]] = (inos[k], (mtime, times[2 * k + 1]), e[3], e[2])  # type: ignore[index]
            rows.add(d.folder, changed)
        entries.sort(key=_by_name)
        size = 0
        files = 0
        subfolders = 0
        held = True  # every subfolder's tree is in the cache
        for e in entries:
            size += e[3]
            child = e[5]
            if child is None:
                files += 1
            else:
                files += child.files
                subfolders += 1
                held = held and child.stored
        try:
            data = encode_rows(entries)  # type: ignore[arg-type]
        except UnicodeEncodeError:
            raise PathError(
                f"a file name under {rel} is not valid UTF-8", "rename the file, or add it to .cairnignore"
            ) from None
        oid = blake3(data).hexdigest()
        if store_tree is not None and held and len(entries) - subfolders == len(d.pending):
            store_tree(oid, data)
            d.stored = True
            snap.reused.add(oid)
        else:
            trees[oid] = data
        d.files = files
        entries.clear()  # encoded: a million entry lists are freed as their trees are made
        if d.fp is not None:
            snap.seals[d.folder] = (d.fp, oid, size, files)
        if d.parent is None:
            snap.oid, snap.size, snap.files = oid, size, files
        else:
            slot = d.parent.entries[d.slot]
            slot[2], slot[3] = oid, size
    pending.clear()
    return snap


class _Walk:
    """One pass of os.scandir over a folder; links take a slower path of their own."""

    __slots__ = (
        "ahead",
        "cutoff",
        "deferred",
        "dirs",
        "have_tree",
        "ignore",
        "inos",
        "links",
        "pending",
        "prefetching",
        "seals",
        "shared",
        "snap",
        "stats",
        "times",
    )

    def __init__(
        self,
        dirs: list[_Dir],
        pending: list,
        stats: StatCache,
        seals: dict[str, Seal],
        have_tree: Callable[[str], bool] | None,
        cutoff: int,
        ignore,
        snap: Snapshot,
        links,
    ) -> None:
        self.dirs, self.pending, self.stats, self.seals = dirs, pending, stats, seals
        self.have_tree, self.cutoff = have_tree, cutoff
        self.ignore: Ignore | None = ignore
        self.snap: Snapshot = snap
        self.links: LinkPolicy = links
        self.ahead: _Ahead | None = None
        self.prefetching = True
        self.shared: frozenset[str] = frozenset()  # sealed folders helper processes check
        self.deferred: list[tuple[str, _Dir, tuple[str, ...]]] = []  # (path, node, chain) of those reached
        # of each file to hash, at its place in `pending`: its inode, and its mtime and ctime
        # (two each), as machine words rather than three int objects and a tuple
        self.inos = array("Q")
        self.times = array("q")

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead.close()

    def prefetch(self, paths: list[str]) -> None:
        """List, stat and fingerprint these folders on a thread, ahead of the walk reaching them."""
        if self.ahead is None:
            # with ignore rules the fingerprint leaves ignored names out: the walk makes it itself
            self.ahead = _Ahead(self.cutoff if self.ignore is None else None)
        self.ahead.submit(paths)

    def listing(self, dirpath: str) -> Listing:
        """The folder's open descriptor (the caller closes it), its entries, stat-ed, and its
        fingerprint when sealable."""
        try:
            if self.ahead is not None:
                got = self.ahead.take(dirpath)
                if got is not None:
                    return got
            return scan(dirpath, self.cutoff if self.ignore is None else None)
        except PermissionError as e:
            raise _denied(Path(dirpath)) from e

    def folder(self, dirpath: str, folder: str, node: _Dir, chain: tuple[str, ...], linked: bool) -> None:
        """Walk one folder. `chain` holds the resolved folders the walk stood in when it crossed
        a link (to detect loops); `linked` says this folder was reached through one."""
        node.folder = folder
        self.dirs.append(node)
        fd, listing, fp = self.listing(dirpath)
        try:
            subdirs = self.entries(dirpath, folder, node, chain, linked, listing, fp)
        finally:
            os.close(fd)  # the entries' own calls are done: the subfolders are listed on their own
        entries = node.entries
        if self.shared and subdirs:
            # a helper checks these against their seals: they wait for its verdict (finish)
            own = []
            for sub in subdirs:
                if sub[1] in self.shared and not sub[4]:
                    child = _Dir(node, sub[2])
                    child.folder = sub[1]
                    entries[sub[2]][5] = child
                    self.deferred.append((sub[0], child, sub[3]))
                else:
                    own.append(sub)
            subdirs = own
        for i, (sub_path, sub_rel, slot, sub_chain, sub_linked) in enumerate(subdirs):
            if len(subdirs) > 1 and self.prefetching:
                self.prefetch([s[0] for s in subdirs[i : i + _AHEAD]])
            child = _Dir(node, slot)
            entries[slot][5] = child
            self.folder(sub_path, sub_rel, child, sub_chain, sub_linked)

    def finish(self, verified: set[str]) -> None:
        """Take the folders left to helpers: from their seal where a helper found it matching
        (and the tree is in the cache), else walked here (changed, gone, not a folder now)."""
        have = self.have_tree
        while self.deferred:
            dirpath, node, chain = self.deferred.pop()
            seal = self.seals.get(node.folder)
            if node.folder in verified and seal is not None and have is not None and have(seal[1]):
                node.sealed = seal
                self.dirs.append(node)  # after its parent, as the bottom-up build needs
            else:
                self.folder(dirpath, node.folder, node, chain, False)

    def entries(
        self,
        dirpath: str,
        folder: str,
        node: _Dir,
        chain: tuple[str, ...],
        linked: bool,
        listing: list[os.DirEntry],
        fp: bytes | None,
    ) -> list[tuple[str, str, int, tuple[str, ...], bool]]:
        """Fill `node.entries` from the folder's listing; the subfolders to walk. Each DirEntry
        came from a listing by descriptor: its `path` is its name alone."""
        prefix = folder + "/"
        if not linked and self.sealed(listing, fp, folder, prefix, node):
            return []
        ignore, pending, snap = self.ignore, self.pending, self.snap
        entries = node.entries
        subdirs = []
        known = self.stats.files(folder)
        hits = 0
        first = len(pending)
        inos, times = self.inos, self.times
        # sealed() took the stats of `listing` already (each DirEntry keeps its own)
        for e in listing:
            name = e.name
            if e.is_dir(follow_symlinks=False):
                if ignore is not None and ignore.match(prefix + name, True):
                    continue
                subdirs.append((os.path.join(dirpath, name), prefix + name, len(entries), chain, linked))
                entries.append([name, TREE, None, 0, False, None])
                continue
            if ignore is not None and ignore.match(prefix + name, False):
                continue
            if e.is_symlink():  # known from the listing: no system call
                st = self.link(e, prefix + name, dirpath, chain, entries, subdirs)
                if st is None:
                    continue
            else:
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the folder was listed
                if not stat_mod.S_ISREG(st.st_mode):
                    continue  # sockets, fifos, devices: not data
            if name.endswith(SUFFIX):
                snap.pointers.append(prefix + name)
            rec = known.get(name)
            if rec is not None:
                hits += 1
                changed = rec[1]
                if (
                    rec[0] == st.st_ino
                    and changed[0] == st.st_mtime_ns
                    and changed[1] == st.st_ctime_ns
                    and rec[2] == st.st_size
                ):
                    entries.append([name, FILE, rec[3], st.st_size, bool(st.st_mode & 0o100), None])
                    continue
            entry = [name, FILE, None, st.st_size, bool(st.st_mode & 0o100), None, dirpath]
            entries.append(entry)
            pending.append(entry)
            inos.append(st.st_ino)
            times.append(st.st_mtime_ns)
            times.append(st.st_ctime_ns)
        node.pending = range(first, len(pending))
        if hits < len(known):  # files that were deleted: forget them
            snap.keep[folder] = {ent[0] for ent in entries if ent[1] == FILE}
        if linked:
            snap.linked.update(prefix + ent[0] for ent in entries if ent[1] == FILE)
        return subdirs

    def sealed(self, listing: list[os.DirEntry], fp: bytes | None, folder: str, prefix: str, node: _Dir) -> bool:
        """Whether a folder of plain files matches its seal (then `node.sealed` holds it); else
        its fingerprint (`fp`, from the scan) goes to `node.fp` for a new seal. Folders with
        subfolders, links, pointers or a file changed too recently have none."""
        if self.ignore is not None:
            fp = kept_fingerprint(listing, prefix, self.ignore, self.cutoff)
        if fp is None:
            return False
        seal = self.seals.get(folder)
        have = self.have_tree
        if seal is not None and seal[0] == fp and have is not None and have(seal[1]):
            node.sealed = seal
            return True
        node.fp = fp
        return False

    def link(
        self, e: os.DirEntry, rel: str, dirpath: str, chain: tuple[str, ...], entries: list, subdirs: list
    ) -> os.stat_result | None:
        """The stat of the file a followed link leads to; None when the link is skipped (and
        reported) or leads to a folder (queued in `subdirs`)."""
        links = self.links
        path = os.path.join(dirpath, e.name)
        raw = read_link(path)
        if links.is_cache_link(raw):  # a checkout's link (cache.type = symlink): every file may be one
            try:
                st = os.stat(path)
            except OSError:  # a cache object gc removed
                st = None
            if st is not None and stat_mod.S_ISREG(st.st_mode):
                return st
        reason, target = links.judge(path)
        if reason is None:
            try:
                st = os.stat(path)
            except OSError:  # gone, or a cache object gc removed
                reason, target = DANGLING, raw
            else:
                if stat_mod.S_ISREG(st.st_mode):
                    if not links.is_cache_link(raw):
                        self.snap.linked.add(rel)
                    return st
                if not stat_mod.S_ISDIR(st.st_mode):
                    return None  # a link to a socket, fifo or device: not data, as those are not
                if self.ignore is not None and self.ignore.match(rel, True):
                    return None
                here = os.path.realpath(dirpath)
                if any(holds(target, f) for f in (*chain, here)):
                    reason, target = LOOP, raw
                else:
                    subdirs.append((path, rel, len(entries), (*chain, here), True))
                    entries.append([e.name, TREE, None, 0, False, None])
                    return None
        self.snap.skipped.append(Skipped(rel, reason, target))
        return None


class _Ahead:
    """Folders listed ahead of the walk by `_SCANNERS` threads. Plain threads and one condition
    rather than a ThreadPoolExecutor: concurrent.futures and the logging and traceback it
    imports were ~3 ms of every no-op `status` (docs/decisions.md, "W2/W3"). A folder the walk
    reaches before a thread took it is listed by the walk itself, not waited for."""

    __slots__ = ("_cond", "_cutoff", "_done", "_queued", "_running", "_stop", "_threads")

    def __init__(self, cutoff: int | None) -> None:
        self._cutoff = cutoff
        self._cond = threading.Condition()
        self._queued: dict[str, None] = {}  # in walk order (a set would lose it); a thread takes the first
        self._running: set[str] = set()  # being listed by a thread
        self._done: dict[str, tuple[bool, object]] = {}  # path -> (listed, Listing | exception)
        self._stop = False
        self._threads = [
            threading.Thread(target=self._run, name=f"cairn-scan-{i}", daemon=True) for i in range(_SCANNERS)
        ]
        for t in self._threads:
            t.start()

    def submit(self, paths: list[str]) -> None:
        with self._cond:
            new = [p for p in paths if p not in self._done and p not in self._running and p not in self._queued]
            if new:
                self._queued.update(dict.fromkeys(new))
                self._cond.notify(len(new))

    def take(self, path: str) -> Listing | None:
        """The folder's listing once a thread has it; None when no thread took it (the caller
        lists it). An error the thread met is raised here."""
        with self._cond:
            if path in self._queued:
                del self._queued[path]
                return None
            while path not in self._done:
                if path not in self._running:
                    return None
                self._cond.wait()
            listed, value = self._done.pop(path)
        if not listed:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            forked.retire()  # joined before the add's split: it need not wait for the kernel

    def _serve(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._queued and not self._stop:
                    cond.wait()
                if self._stop:
                    return
                path = next(iter(self._queued))
                del self._queued[path]
                self._running.add(path)
            try:
                out: tuple[bool, object] = (True, scan(path, self._cutoff))
            except BaseException as e:  # raised in the walk, which asked for this folder
                out = (False, e)
            with cond:
                self._running.discard(path)
                if self._stop:
                    if out[0]:
                        os.close(out[1][0])  # type: ignore[index]
                    return
                self._done[path] = out
                cond.notify_all()

    def close(self) -> None:
        """Stop the threads (a folder being listed is finished first) and close the folders
        listed ahead that the walk never reached (each listing holds its folder open)."""
        with self._cond:
            self._stop = True
            self._queued.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join()
        for listed, value in self._done.values():
            if listed:
                os.close(value[0])  # type: ignore[index]
        self._done.clear()
