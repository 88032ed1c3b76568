"""Listing a folder for the walk (index/snapshot.py): its entries stat-ed by descriptor, the
fingerprint a seal compares (index/statcache.py), and the helper processes that check shares of
a big tree's sealed folders against their seals (the split walk, docs/decisions.md)."""

from __future__ import annotations

import marshal
import os
import stat as stat_mod
from operator import itemgetter

from blake3 import blake3

from cairn.index import forked
from cairn.index.ignore import Ignore
from cairn.index.pointer import SUFFIX
from cairn.index.statcache import Seal

# A no-op walk of this many files (in sealed folders) or more is split over processes: each stats
# and fingerprints a share of the folders; `core.walk_split_files`
SPLIT_FILES = 100_000
# ... and from this many while a core is free (the last minute's load average below the cores):
# a 20k-file no-op status then takes ~15 ms less wall time for the same CPU, where on a busy
# machine the helper would wait for a core (docs/decisions.md, "W2/W3")
IDLE_SPLIT_FILES = 10_000
_MAX_PROCESSES = 4
_name = itemgetter(0)
_ctime = itemgetter(3)
_mode = itemgetter(5)
# A folder's listing as the scan leaves it: its open descriptor, its entries (stat-ed), and the
# fingerprint of its files when it can be sealed (None: it cannot, or it was not computed)
Listing = tuple[int, list[os.DirEntry], bytes | None]


def kept_fingerprint(listing: list[os.DirEntry], prefix: str, ignore: Ignore, cutoff: int) -> bytes | None:
    """The fingerprint of a folder's entries that `ignore` keeps; an ignored subfolder does not
    make it a folder of folders."""
    listing = [e for e in listing if not ignore.match(prefix + e.name, e.is_dir(follow_symlinks=False))]
    if any(e.is_dir(follow_symlinks=False) for e in listing):
        return None
    try:
        stats = [e.stat(follow_symlinks=False) for e in listing]  # taken by the scan already
    except OSError:
        return None
    return fingerprint([e.name for e in listing], stats, cutoff)


def split(
    dirpath: str, rel: str, seals: dict[str, Seal], split_files: int, cutoff: int, ignore: Ignore | None
) -> tuple[list[forked.Forked], frozenset[str], bool]:
    """Start the helper processes of a big no-op walk and return them with the folders they
    check; none when its sealed folders hold fewer than `split_files` files (IDLE_SPLIT_FILES
    while a core is free, when that is fewer). The sealed folders
    (sorted, then dealt out in turn so each share holds as many) go one share to each process;
    the caller keeps the first and walks the rest of the tree as before, leaving the helpers'
    folders until their answers are in (snapshot's `_Walk.finish`). The third value says whether
    threads listing folders ahead of the caller's walk may help: not beside helpers, which take
    the other cores, nor in a walk that would split on a free core when none is free (they
    would only hand the GIL back and forth: a 20k-file status at load 4, 115-124 -> 95 ms CPU
    and 118-121 -> 96 ms wall without them)."""
    folders = sorted(f for f in seals if f != rel)  # the top folder is this process's first step
    files = sum(seals[f][3] for f in folders)
    if len(folders) < 2 or files < min(split_files, IDLE_SPLIT_FILES) or not hasattr(os, "fork"):
        return [], frozenset(), True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    if files < split_files and not _core_free(cores):
        return [], frozenset(), False
    if forked.other_threads():  # a fork copies only this thread: another's locks stay held
        return [], frozenset(), True
    n = max(2, min(_MAX_PROCESSES, cores, len(folders)))
    cut = len(rel)
    shares = [[(dirpath + f[cut:], f, seals[f][0]) for f in folders[k::n]] for k in range(1, n)]
    hint = (
        "run the command again; if it keeps failing, walk in one process "
        "(cairn config core.walk_split_files 0) and report it"
    )
    helpers: list[forked.Forked] = []
    try:
        for share in shares:
            # before this process starts its scanning threads: a fork copies only the thread forking
            helpers.append(forked.Forked(verify, (share, cutoff, ignore), hint))
    except BaseException:
        for h in helpers:
            h.close()
        raise
    return helpers, frozenset(f for share in shares for _, f, _ in share), False


def _core_free(cores: int) -> bool:
    """Whether a second core was free over the last minute (load average below the cores)."""
    if cores < 2:
        return False
    try:
        return os.getloadavg()[0] < cores
    except OSError:  # no load average to read
        return False


def verify(arg: tuple[list[tuple[str, str, bytes]], int, Ignore | None]) -> list[str]:
    """In a helper process: the folders of `share` ((path, folder, fingerprint of its seal))
    whose files still match their seal. Anything else (changed, gone, unreadable, holding
    subfolders now) is left to the parent's walk, which reports it as a serial walk would."""
    share, cutoff, ignore = arg
    matching = []
    for dirpath, folder, sealed_fp in share:
        try:
            fd, listing, fp = scan(dirpath, cutoff if ignore is None else None)
        except OSError:
            continue
        os.close(fd)
        if ignore is not None:
            fp = kept_fingerprint(listing, folder + "/", ignore, cutoff)
        if fp is not None and fp == sealed_fp:
            matching.append(folder)
    return matching


def scan(dirpath: str, cutoff: int | None) -> Listing:
    """A folder, open, and its entries, each with its own (lstat) stats taken: os.DirEntry keeps
    them. Listed by descriptor, each stat looks up one name in the open folder (fstatat) instead
    of resolving the whole path again. The descriptor stays open while the walk may still ask an
    entry (a link's target) and is the caller's to close; an entry gone meanwhile is left out.
    With `cutoff`, the fingerprint of the folder's files too (on the scanning thread, so the walk
    only compares it)."""
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with os.scandir(fd) as it:
            listing = list(it)
        try:
            # subfolders are stat-ed too: one call each, and one comprehension instead of a loop
            # asking each entry whether it is a folder (~5% of a no-op walk's CPU, measured)
            stats = [e.stat(follow_symlinks=False) for e in listing]
        except FileNotFoundError:
            listing = [e for e in listing if _present(e)]  # deleted since the folder was listed
            stats = [e.stat(follow_symlinks=False) for e in listing]  # each kept its stat
        fp = None if cutoff is None else fingerprint([e.name for e in listing], stats, cutoff)
    except BaseException:
        os.close(fd)
        raise
    return fd, listing, fp


def _present(e: os.DirEntry) -> bool:
    try:
        e.stat(follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def fingerprint(names: list[str], stats: list[os.stat_result], cutoff: int) -> bytes | None:
    """The BLAKE3 of the sorted stat rows (name, ino, mtime_ns, ctime_ns, size, st_mode) of a
    folder's entries, `marshal.dumps(rows, 2)`; None when an entry is no regular file (a
    subfolder, a link, a fifo) or a pointer file, or a file changed at or after `cutoff` (not
    to be trusted yet). Whole-listing comprehensions: a million files pass through here on
    every walk."""
    if SUFFIX + "/" in "/".join(names) + "/":  # a pointer file inside ("/" is in no name)
        return None
    rows = [
        (name, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)
        for name, st in zip(names, stats, strict=True)
    ]
    if not all(map(stat_mod.S_ISREG, map(_mode, rows))):  # subfolders, links, fifos, sockets, devices
        return None
    if rows and max(map(_ctime, rows)) >= cutoff:  # ctime >= mtime: the last change
        return None
    # by name alone: names are unique in a folder, so the order is the rows' own, and comparing
    # strings instead of tuples halves the sort (0.22 -> 0.13 us a row)
    rows.sort(key=_name)
    return blake3(marshal.dumps(rows, 2)).digest()  # version 2: no back-references, stable bytes
