"""Hashing the files a walk found new or changed (index/snapshot.py): on a thread pool, and for a
big add split over processes too.

Threads: BLAKE3 and file I/O release the interpreter lock, but the rest of the per-file work of an
add (opening and reading a small file, its id, appending it to a local pack) holds it, so the
threads of one process use about one core (issue 22: at 200k files, CPU ~= wall). From
`core.hash_split_files` files to hash, the files are dealt into shares, one per core (at most
four): forked helpers (index/forked.py) each hash and store one share, into packs of their own
(`Shares`, the object store's hooks), and send back the ids in order with the packs they sealed,
which this process registers; it hashes the first share itself meanwhile. Trees, stat rows and
the multi-pack index stay with this process and are written after every share is in, so a
helper that fails or is killed leaves at most complete packs nothing refers to (gc removes
them; a rerun finds their objects already stored).

Files of one size go to one share: identical files have the same size, so each object is stored
by one process, once. A size holding so many of the files that keeping them together would leave
the shares uneven (every file the same size, say) is spread over the shares; an object among
those may then be packed by two processes, a second copy that is harmless (docs/decisions.md).
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Callable
from itertools import compress
from pathlib import Path
from typing import Any, Protocol

from cairn.errors import HelperProcessError, PathError, PermissionDeniedError
from cairn.index import forked
from cairn.objects.hashing import OID_LEN
from cairn.progress import Progress

# hash_fn(absolute path, size) -> oid; it may also store the file (add hashes and copies in one pass)
HashFn = Callable[[str, int], str]

# An add with this many files to hash or more is split over processes; `core.hash_split_files`
SPLIT_FILES = 20_000
_MAX_PROCESSES = 4
_BATCH = 128
# one thread per core: more only trade the GIL back and forth (futex storms measured with strace)
_WORKERS = max(2, os.cpu_count() or 1)
# a file's fixed cost (open, read, close, its pack row: ~35 us) in bytes read and hashed
# (~0.7 ns a byte), to deal shares of equal work
_PER_FILE = 48 * 1024
# a size whose files would be more than this part of a share is spread over the shares
_SPREAD = 1 / 16
# how often the bar takes in the helpers' counts while this process waits for them
_POLL_S = 0.2
_COUNT = struct.Struct("=Q")  # one aligned 8-byte count per helper: written by it alone
_HINT = (
    "run the command again; if it keeps failing, hash in one process "
    "(cairn config core.hash_split_files 0) and report it"
)

# a file to hash: its tree entry as the walk made it, [name, kind, oid, size, exec, child, folder's
# path]; its id goes to [2] (one list a file, not a row of paths and stats beside it: issue 22)
Pending = list


class Shares(Protocol):
    """What a store does around split hashing (objects/store.py implements it)."""

    def share_prepare(self) -> None:
        """In this process, before the helpers fork."""

    def share_begin(self) -> None:
        """In a helper, before it stores its share."""

    def share_end(self) -> Any:
        """In a helper, after its share: what it stored that this process must register
        (marshallable)."""

    def share_adopt(self, stored: Any) -> None:
        """In this process, with each helper's `share_end`."""


def hash_pending(
    pending: list[Pending],
    hash_fn: HashFn,
    progress: Progress,
    rel: str,
    split_files: int = 0,
    shares: Shares | None = None,
) -> None:
    """Set each pending file's id ([2]), storing it through `hash_fn`. With `shares` and
    `split_files` > 0, that many files or more are split over forked helpers (see above)."""
    own: list[int] | None = None
    helpers: list[tuple[forked.Forked, list[int]]] = []
    counts = _Counts(0)
    if shares is not None:
        # before the progress bar starts: rich draws it from a thread of its own
        own, helpers, counts = _split(pending, hash_fn, split_files, shares)
    try:
        task = progress.task(f"hashing {rel}", len(pending))

        def advance(n: int) -> None:
            task.advance(n + counts.news())  # the helpers' files since, as they go

        try:
            _hash_rows(pending if own is None else [pending[i] for i in own], hash_fn, advance)
            for helper, share in helpers:
                while not helper.wait(_POLL_S):
                    advance(0)
                oids, stored = helper.result()
                if len(oids) != OID_LEN * len(share):
                    raise HelperProcessError(
                        f"a helper process hashing files sent {len(oids) / OID_LEN:g} ids for {len(share)} files", _HINT
                    )
                for at, i in zip(range(0, len(oids), OID_LEN), share, strict=True):
                    pending[i][2] = oids[at : at + OID_LEN]
                shares.share_adopt(stored)  # type: ignore[union-attr]
                del oids, stored  # before the next helper's result comes in
            advance(0)
        finally:
            task.close()
    finally:
        for helper, _ in helpers:
            helper.close()


def _split(
    pending: list[Pending], hash_fn: HashFn, split_files: int, shares: Shares
) -> tuple[list[int] | None, list[tuple[forked.Forked, list[int]]], _Counts]:
    """The share this process hashes (None: all of it), the helpers forked for the others and
    the counts of files they have hashed so far."""
    alone = None, [], _Counts(0)
    if split_files <= 0 or len(pending) < split_files or not hasattr(os, "fork") or forked.other_threads():
        return alone
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    n = min(_MAX_PROCESSES, cores)
    if n < 2:
        return alone
    parts = deal([row[3] for row in pending], n)
    shares.share_prepare()
    counts = _Counts(n - 1)
    helpers: list[tuple[forked.Forked, list[int]]] = []
    try:
        for k, share in enumerate(parts[1:]):
            if share:
                arg = (pending, share, hash_fn, shares, counts, k)
                helpers.append((forked.Forked(_helper, arg, _HINT, "hashing files"), share))
    except BaseException as e:
        for helper, _ in helpers:
            helper.close()
        if isinstance(e, OSError):  # no process to be had (EAGAIN, ENOMEM): all of it here
            return alone
        raise
    return parts[0], helpers, counts


def _helper(arg: tuple[list[Pending], list[int], HashFn, Shares, _Counts, int]) -> tuple[str, Any]:
    """In a helper process: hash and store a share; the ids in the share's order, joined into one
    string (one object to send and load, not one per file), and what the store must register."""
    pending, share, hash_fn, shares, counts, k = arg
    shares.share_begin()
    rows = [pending[i] for i in share]
    _hash_rows(rows, hash_fn, lambda n: counts.add(k, n))
    oids = [row[2] for row in rows]
    if set(map(len, oids)) - {OID_LEN}:
        raise ValueError("an id that is not 64 characters long")
    return "".join(oids), shares.share_end()


class _Counts:
    """Files hashed so far by each helper, in memory shared with them (an anonymous mapping
    made before the fork), so the add's bar moves with every share as it goes instead of
    jumping by a helper's whole share when its result arrives."""

    def __init__(self, helpers: int) -> None:
        self._map = None
        self._seen = 0
        if helpers:
            import mmap  # here: a status with a few changed files never splits

            self._map = mmap.mmap(-1, 8 * helpers)  # MAP_SHARED: the helpers' writes are seen here

    def add(self, k: int, n: int) -> None:  # in helper k
        assert self._map is not None
        _COUNT.pack_into(self._map, 8 * k, _COUNT.unpack_from(self._map, 8 * k)[0] + n)

    def news(self) -> int:
        """Files the helpers hashed since the last call."""
        if self._map is None:
            return 0
        total = sum(c for (c,) in _COUNT.iter_unpack(self._map))
        new, self._seen = total - self._seen, total
        return new


def deal(sizes: list[int], n: int) -> list[list[int]]:
    """Indexes into `sizes` dealt into `n` shares of about equal work, files of one size in one
    share unless their size is spread (see the module's docstring); each share in index order."""
    counts = Counter(sizes)
    total = sum(c * (s + _PER_FILE) for s, c in counts.items())
    limit = total / n * _SPREAD
    owner: dict[int, int] = {}
    loads = [0] * n
    spread_any = False
    # the biggest sizes first, each to the least loaded share: the last placed are the smallest
    for size, count in sorted(counts.items(), key=lambda sc: sc[1] * (sc[0] + _PER_FILE), reverse=True):
        cost = count * (size + _PER_FILE)
        if cost > limit:
            owner[size] = -1  # spread: dealt out in turn, so every share gets as many
            spread_any = True
            continue
        k = loads.index(min(loads))
        owner[size] = k
        loads[k] += cost
    # one pass per share in C (map, compress), not a loop in Python over a million files
    rows = range(len(sizes))
    owners = list(map(owner.__getitem__, sizes))
    spread = list(compress(rows, map((-1).__eq__, owners))) if spread_any else []
    parts = []
    for k in range(n):
        part = list(compress(rows, map(k.__eq__, owners)))
        if spread:
            part += spread[k::n]
            part.sort()  # two sorted runs: merged in one pass
        parts.append(part)
    return parts


def _hash_rows(rows: list[Pending], hash_fn: HashFn, advance: Callable[[int], None]) -> None:
    join = os.path.join

    def run(batch: list[Pending]) -> int:
        for row in batch:
            row[2] = hash_guarded(hash_fn, join(row[6], row[0]), row[3])
        return len(batch)

    if len(rows) <= _BATCH:
        advance(run(rows))
        return
    from concurrent.futures import ThreadPoolExecutor

    batches = [rows[i : i + _BATCH] for i in range(0, len(rows), _BATCH)]
    pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="cairn-hash")
    try:
        for n in pool.map(run, batches):
            advance(n)
    finally:
        # on Ctrl-C, drop the queued batches instead of finishing them
        pool.shutdown(wait=True, cancel_futures=True)


def hash_guarded(hash_fn: HashFn, p: str, size: int) -> str:
    try:
        return hash_fn(p, size)
    except PermissionError as e:
        raise denied(Path(p)) from e
    except FileNotFoundError:
        raise PathError(
            f"{p} disappeared while cairn was reading it",
            "something else is changing this folder; wait for it to finish and run the command again",
        ) from None


def denied(path: Path) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"permission denied: cannot read {path}",
        "fix the file's permissions (chmod u+r) or add it to .cairnignore",
    )
