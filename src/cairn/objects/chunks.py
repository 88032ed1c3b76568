"""Large files as content-defined chunks (FastCDC): a new version of a big file stores and sends
only the chunks that changed.

A file at or above `cache.chunking.min_size` is cut into chunks of ~64 KiB (FastCDC: a cut
depends only on the bytes near it, so an edit moves the cuts around it and no others); each chunk
is an object (BLAKE3 of its bytes), kept in the cache's local packs (objects/localpacks.py; chunks
an older cairn stored loose are still read). A chunk list, `<cache>/chunks/<2 hex>/<62 hex>`
named by the whole file's id, says which chunks make the file, in order. The file's id stays
the BLAKE3 of all its bytes, so pointers, trees, diffs and lineage never see chunking.
Format: docs/formats.md ("Chunk lists")."""

from __future__ import annotations

import bisect
import collections
import io
import itertools
import json
import mmap
import operator
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from blake3 import blake3

from cairn.errors import CorruptObjectError, PathError, shown
from cairn.objects.columns import columns
from cairn.objects.hashing import THREADS

VERSION = 2  # written; version 1 (all JSON, ids in hex) is still read
# Version 2's rows: the chunk's 32-byte id and its size, 36 bytes where a JSON row took ~76: a
# 1 GiB file's list shrinks from ~1.4 to ~0.6 MiB, which a version that appends 100 MiB stores anew.
_ROW = struct.Struct(">32sI")
# FastCDC parameters, measured (docs/chunks.md): pyfastcdc's average is avg + min, so these
# give ~60 KiB chunks. Changing them changes every cut: they are part of the format.
AVG, MIN, MAX, NC = 49152, 16384, 262144, 2
DEFAULT_MIN_SIZE = 16 * 1024 * 1024
# The kind remotes give a file held as chunks: its chunk list travels, then its chunks as objects.
CHUNKED = "chunked"
# Bytes read per pass of the chunker; the unfinished last chunk is carried into the next block.
# Two blocks of 16 MiB in flight fell out of the CPU's cache between the cut and the hashes
# (0.4-0.5 s more CPU per 2 GiB); 2-8 MiB alike (docs/decisions.md).
_BLOCK = 4 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Chunking:
    """Whether (and from which size) files are stored as chunks (config `cache.chunking.*`)."""

    enabled: bool = False  # opt-in: it costs CPU on every add (docs/chunks.md, "Why off by default")
    min_size: int = DEFAULT_MIN_SIZE

    def applies(self, size: int) -> bool:
        return self.enabled and size >= self.min_size and size > 0 and available()


def available() -> bool:
    """The chunker is the optional `pyfastcdc` (extra `cairn[chunks]`); without it files are
    stored whole, and chunked files written elsewhere are still read (that needs only BLAKE3)."""
    try:
        import pyfastcdc  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class ChunkList:
    oid: str  # the whole file's id
    size: int
    chunks: tuple[tuple[str, int], ...]  # (chunk id, size), in file order

    def __eq__(self, other: object) -> bool:  # a list as read (_Rows) equals the same list made
        if not isinstance(other, ChunkList):
            return NotImplemented
        return (self.oid, self.size, self.chunks) == (other.oid, other.size, other.chunks)

    def __hash__(self) -> int:
        return hash((self.oid, self.size))

    def encode(self) -> bytes:
        head = {
            "chunker": {"algorithm": "fastcdc2020", "avg": AVG, "max": MAX, "min": MIN, "nc": NC},
            "oid": self.oid,
            "rows": len(self.chunks),
            "size": self.size,
            "version": VERSION,
        }
        rows = b"".join(_ROW.pack(bytes.fromhex(o), n) for o, n in self.chunks)
        return json.dumps(head, separators=(",", ":"), sort_keys=True).encode() + b"\n" + rows

    def ids(self) -> set[str]:
        return {o for o, _ in self.chunks}

    def id_rows(self) -> tuple[Sequence[bytes], Sequence[int]]:
        """The chunks' ids (32 bytes each) and sizes, in file order."""
        return [bytes.fromhex(o) for o, _ in self.chunks], [n for _, n in self.chunks]


class _Rows(ChunkList):
    """A list as read (version 2): its rows kept as stored, their hex ids made only when
    `chunks` is first asked for. A checkout never asks: it locates the chunks by their 32-byte
    ids (`id_rows`), and making 34,000 hex strings and row tuples was 7 of the 10 ms of reading a
    2 GiB file's list (docs/decisions.md, "W55")."""

    def __init__(self, oid: str, size: int, ids: list[bytes], sizes: list[int]) -> None:
        object.__setattr__(self, "oid", oid)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_sizes", sizes)

    @property  # type: ignore[override]
    def chunks(self) -> tuple[tuple[str, int], ...]:
        made = self.__dict__.get("_chunks")
        if made is None:
            made = tuple(zip(map(bytes.hex, self._ids), self._sizes, strict=True))
            object.__setattr__(self, "_chunks", made)
        return made

    def id_rows(self) -> tuple[Sequence[bytes], Sequence[int]]:
        return self._ids, self._sizes


def decode(data: bytes, oid: str) -> ChunkList:
    """A chunk list read from a cache or a remote, every field checked (it becomes reads and
    writes of objects, and a remote may be written by anyone)."""
    try:
        end = data.find(b"\n")
        doc = json.loads(data if end < 0 else data[:end])
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        version = doc.get("version")
        if version not in (1, 2):
            raise CorruptObjectError(
                f"the chunk list of {oid} has format version {shown(version)}; this cairn reads 1 and 2",
                "upgrade cairn",
            )
        if doc.get("oid") != oid:
            raise ValueError(f"it names file {shown(doc.get('oid'))}")
        if version == 1:
            if end >= 0:
                raise ValueError("a version 1 list is one line of JSON")
            chunks = tuple(_row(r) for r in doc["chunks"])
            size = doc["size"]
            if type(size) is not int or sum(n for _, n in chunks) != size:
                raise ValueError("the chunk sizes do not add up to the file's size")
            return ChunkList(oid, size, chunks)
        ids, sizes = _rows(data[end + 1 :] if end >= 0 else b"", doc["rows"])
        size = doc["size"]
        if type(size) is not int or sum(sizes) != size:
            raise ValueError("the chunk sizes do not add up to the file's size")
        return _Rows(oid, size, ids, sizes)
    except (ValueError, KeyError, TypeError, RecursionError, struct.error) as e:
        raise corrupt_list(oid, str(e)) from None


def _row(row: object) -> tuple[str, int]:
    if type(row) is not list or len(row) != 2:
        raise ValueError(f"a row is not [oid, size]: {shown(row)}")
    o, n = row
    if type(o) is not str or len(o) != 64 or not _HEX.issuperset(o) or type(n) is not int or not 0 < n <= 1 << 32:
        raise ValueError(f"bad row {shown(row)}")
    return o, n


def _rows(body: bytes, count: object) -> tuple[list[bytes], list[int]]:
    """The ids and sizes of version 2 rows, column by column (objects/columns.py)."""
    if type(count) is not int or len(body) != count * _ROW.size:
        raise ValueError(f"{len(body)} bytes of rows where {shown(count)} rows were announced")
    ids, sizes = columns(body, 0, count, ">", ("32s4x", "32xI"))
    if 0 in sizes:
        raise ValueError("a chunk of 0 bytes")
    return ids, sizes


def corrupt_list(oid: str, why: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"the chunk list of {oid} is damaged ({why})",
        "run `cairn fsck --delete-corrupt`, then `cairn pull` (or `cairn add` the file again)",
    )


def cut(path: str) -> Iterator[memoryview]:
    """The chunks of a file, in order, each valid until the next is asked for (the cuts of
    one pass over the whole file)."""
    with open(path, "rb", buffering=0) as f:
        for view, _, sizes in _blocks(f, 1):
            at = 0
            for n in sizes:
                yield view[at : at + n]
                at += n


def _blocks(f, count: int) -> Iterator[tuple[memoryview, int, list[int]]]:
    """The open file `f` read _BLOCK bytes at a time and cut: (view, new, sizes) per block,
    `view` the unfinished chunk carried over from the block before followed (from `new` on) by
    the bytes just read, `sizes` the lengths of the chunks it completes, from its start (the
    last chunk cut short by the block's end is carried into the next block; the cuts are those
    of one pass). `count` buffers take turns: a block's view stays valid until `count` more
    blocks are asked for, so other threads can hash it meanwhile."""
    import pyfastcdc

    cdc = pyfastcdc.FastCDC(AVG, min_size=MIN, max_size=MAX, normalized_chunking=NC)
    bufs = [memoryview(bytearray(_BLOCK + MAX)) for _ in range(count)]
    tail = b""
    for k in itertools.count():
        view = bufs[k % count]
        carry = len(tail)
        view[:carry] = tail
        got = f.readinto(view[carry : carry + _BLOCK])
        end = carry + got
        if end == 0:
            return
        # the block's cuts in one go (the chunker releases the interpreter lock while it looks
        # for each one, so the hashing thread runs meanwhile)
        sizes = [c.length for c in cdc.cut_buf(view[:end])]
        # the last chunk may go on in the next block: cut again with what follows
        tail = bytes(view[end - sizes.pop() : end]) if got else b""
        yield view[:end], carry, sizes
        if not got:
            return


def split_into(store, src: str) -> ChunkList:
    """Cut `src` into chunks, store the new ones, and return its chunk list (not yet written).
    One read, three threads handing work over once per block (4 MiB), never per chunk: this one
    reads and cuts the blocks, a second hashes each block whole (the file's id) and then its
    chunks while the next block is cut, and a third has the kernel copy the runs of new chunks
    into local packs (objects/localpacks.py: sequential writes, no file per chunk). The packs
    are sealed on return."""
    from concurrent.futures import ThreadPoolExecutor  # here: a no-op status loads this module

    before = os.stat(src)
    whole = blake3()

    def hash_block(new: memoryview, view: memoryview, sizes: list[int]) -> list[str]:
        whole.update(new)  # in file order: one thread, blocks taken in turn
        ids = []
        at = 0
        for n in sizes:
            ids.append(blake3(view[at : at + n]).hexdigest())
            at += n
        return ids

    rows: list[tuple[str, int]] = []
    known = _LooseNames(store)
    run: list[tuple[str, int]] = []  # new chunks back to back in the file, copied as one
    queued: set[str] = set()
    run_at = pos = 0
    # exits in reverse: the threads are done (queued work cancelled on an error) before the
    # writer publishes or discards the packs, and before the file they copy from is closed
    with (
        open(src, "rb", buffering=0) as f,
        store.packs.writer(defer=True) as packw,
        ThreadPoolExecutor(1, thread_name_prefix="cairn-copy") as copier,
        ThreadPoolExecutor(1, thread_name_prefix="cairn-b3") as hashing,
    ):
        copies: collections.deque = collections.deque()

        def copy_run() -> None:
            # one copying thread: the runs reach the pack in file order
            copies.append(copier.submit(packw.add_run, f.fileno(), run_at, list(run)))
            while copies and copies[0].done():
                copies.popleft().result()  # a failed copy (a full disk) stops the add now

        def take(block) -> None:
            nonlocal run, run_at, pos
            hashed, sizes = block
            for coid, n in zip(hashed.result(), sizes, strict=True):
                new = coid not in queued and not store.packs.has(coid) and coid not in known
                if run and (not new or pos + n - run_at > _RUN):
                    copy_run()
                    run = []
                if new:
                    if not run:
                        run_at = pos
                    run.append((coid, n))
                    queued.add(coid)
                rows.append((coid, n))
                pos += n

        pending: collections.deque = collections.deque()
        try:
            for view, new, sizes in _blocks(f, _BUFFERS):
                pending.append((hashing.submit(hash_block, view[new:], view, sizes), sizes))
                # the oldest block's buffer is read into next: its hashing must be over
                while len(pending) >= _BUFFERS:
                    take(pending.popleft())
            while pending:
                take(pending.popleft())
            if run:
                copy_run()
            while copies:
                copies.popleft().result()
        except BaseException:
            for fut in itertools.chain((b[0] for b in pending), copies):
                fut.cancel()  # what has not started; the pools' exits wait for the rest
            raise
        oid = whole.hexdigest()
        # the kernel copied what was hashed only if the file did not change meanwhile: checked
        # before the packs are published (the writer discards them on the error)
        after = os.stat(src)
        size = sum(n for _, n in rows)
        if (after.st_ino, after.st_size, after.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns) or (
            size != after.st_size
        ):
            raise PathError(
                f"{src} changed while cairn was adding it",
                "wait until whatever writes it has finished, then run the command again",
            )
    if packw.sealed:  # the next lookup of these chunks (the next version's add) reads no JSON index
        store.packs.update_midx()
    return ChunkList(oid, size, tuple(rows))


# Reading buffers of an add: one being read and cut while the block before is hashed.
_BUFFERS = 2
_READERS = 2
# New chunks copied into a pack by one kernel call at most (and held back meanwhile).
_RUN = 8 * 1024 * 1024


class _LooseNames:
    """Which chunks an older cairn left loose (one file each): a fan-out folder of the cache
    is listed once when first asked about (a 2 GiB file has ~34,000 chunks: 256 listings
    instead of 34,000 stats)."""

    def __init__(self, store) -> None:
        self._objects = store._objects
        self._fans: dict[str, set[str]] = {}

    def __contains__(self, oid: str) -> bool:
        names = self._fans.get(oid[:2])
        if names is None:
            try:
                names = self._fans[oid[:2]] = set(os.listdir(f"{self._objects}/{oid[:2]}"))
            except FileNotFoundError:
                names = self._fans[oid[:2]] = set()
        return oid[2:] in names


# Bytes gathered before one multi-threaded BLAKE3 update and one write while reassembling.
_BATCH = 8 * 1024 * 1024


def assemble(store, chunks: ChunkList, write: Callable[[memoryview], None], name: str) -> None:
    """Give the file of `chunks` to `write` in order, checking the whole file against its id; a
    mismatch is traced to the damaged or missing chunk and raised naming the file (`name`).
    Reader threads gather batches of chunks (opening thousands of small files is most of the
    cost) while this thread hashes and writes the batch before."""
    from concurrent.futures import ThreadPoolExecutor  # here: a no-op status loads this module

    h = blake3(max_threads=THREADS)
    batches: list[list[tuple[str, int]]] = [[]]
    fill = 0
    for row in chunks.chunks:
        batches[-1].append(row)
        fill += row[1]
        if fill >= _BATCH:
            batches.append([])
            fill = 0

    def gather(batch: list[tuple[str, int]]) -> bytearray:
        buf = bytearray(sum(n for _, n in batch))
        try:
            _gather(store, batch, memoryview(buf), name, chunks.oid)
        except _PackGone:
            store.packs.refresh()  # a gc rewrote a pack since its index was read: once more
            _gather(store, batch, memoryview(buf), name, chunks.oid)
        return buf

    with ThreadPoolExecutor(_READERS, thread_name_prefix="cairn-chunk") as pool:
        pending: collections.deque = collections.deque()
        todo = iter(batches)
        for batch in itertools.islice(todo, _READERS + 1):
            pending.append(pool.submit(gather, batch))
        try:
            while pending:
                data = memoryview(pending.popleft().result())
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(gather, nxt))
                h.update(data)
                write(data)
        finally:
            for f in pending:
                f.cancel()
    if h.hexdigest() != chunks.oid:
        bad = next((c for c, _ in chunks.chunks if not store.verify_object(c)), None)
        if bad is not None:
            raise damaged_chunk(name, chunks.oid, bad)
        raise corrupt_list(chunks.oid, "its chunks do not make the file")


def copy_into(store, chunks: ChunkList, fd: int, name: str) -> None:
    """Rebuild the file of `chunks` into `fd` the way `cp` copies: the kernel copies each run
    of chunks lying back to back in a pack (copy_file_range; a fresh add writes a file's chunks
    in order, so a few runs per pack) while a second thread hashes the same bytes from the page
    cache (mapped, not read: no second copy of every byte). A mismatch with the file's id is
    traced to the damaged chunk and raised naming the file (`name`); the caller discards what
    was written."""
    from concurrent.futures import ThreadPoolExecutor  # here: a no-op status loads this module

    for attempt in range(2):
        segments = _segments(store, chunks, name)
        try:
            fds = _open_all(store, segments, chunks, name)
            break
        except _PackGone:
            if attempt:
                raise missing_chunk(name, chunks.oid, "in a removed pack") from None
            store.packs.refresh()  # a gc rewrote a pack since its index was read
    h = blake3()

    def hash_all() -> None:
        for src, off, length in segments:
            if not _hash_range(h, src, off, length):
                return  # cut short: the id will not match

    try:
        segments = [(fds[k], off, n) for k, off, n in segments]
        with ThreadPoolExecutor(1, thread_name_prefix="cairn-b3") as pool:
            hashed = pool.submit(hash_all)
            try:
                for src, off, length in segments:
                    _copy_segment(src, fd, off, length)
            finally:
                hashed.result()
    finally:
        for x in fds.values():
            os.close(x)
    if h.hexdigest() != chunks.oid:
        bad = next((c for c, _ in chunks.chunks if not store.verify_object(c)), None)
        if bad is not None:
            raise damaged_chunk(name, chunks.oid, bad)
        raise corrupt_list(chunks.oid, "its chunks do not make the file")


# Ranges from which hashing maps the pack rather than reading it: a read copies every byte once
# more, mapping pages already in the page cache costs a fault per 16 of them (7% less CPU for
# the hash of 2 GiB measured; MADV_POPULATE_READ saved nothing more).
_MAP_FROM = 1024 * 1024


def _hash_range(h, fd: int, off: int, length: int) -> bool:
    """Hash `length` bytes of `fd` at `off`; False when the file holds fewer (a pack cut short).
    The file's size is checked first: touching a mapping past the end of a file kills the
    process (SIGBUS); packs are never changed in place, only replaced."""
    have = max(min(length, os.fstat(fd).st_size - off), 0)
    if have >= _MAP_FROM:
        start = off - off % mmap.ALLOCATIONGRANULARITY
        with (
            mmap.mmap(fd, off + have - start, prot=mmap.PROT_READ, offset=start) as mm,
            memoryview(mm) as view,
            view[off - start :] as part,  # released before the unmap, which refuses otherwise
        ):
            h.update(part)
        return have == length
    done = 0
    while done < have:
        data = os.pread(fd, min(have - done, _BATCH), off + done)
        if not data:
            return False
        h.update(data)
        done += len(data)
    return have == length


def _open_all(store, segments: list, chunks: ChunkList, name: str) -> dict[str, int]:
    fds: dict[str, int] = {}
    try:
        for key, _, _ in segments:
            if key not in fds:
                packed = key.startswith("pack:")
                try:
                    fds[key] = os.open(store.packs.pack_path(key[5:]) if packed else store.path(key), os.O_RDONLY)
                except FileNotFoundError:
                    if packed:
                        raise _PackGone(key) from None
                    raise missing_chunk(name, chunks.oid, key) from None
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    return fds


def _segments(store, chunks: ChunkList, name: str) -> list[tuple[str, int, int]]:
    """The file as (source, offset, length) runs in order: "pack:<id>" for runs back to back
    in one pack, a loose chunk's id for each chunk an older cairn stored as a file."""
    ids, sizes = chunks.id_rows()
    found = store.packs.locate_ids(ids)
    if found is not None:
        runs = _packed_runs(*found, sizes)
        if runs is not None:
            return runs
    return _segments_each(store, chunks, name)


def _packed_runs(
    packs: list[str], columns: tuple[list[int], list[int], list[int]], sizes: Sequence[int]
) -> list[tuple[str, int, int]] | None:
    """The runs of a file whose chunks are all packed (`columns`: each chunk's pack number,
    offset and size as packed, in file order) with the sizes its list gives, else None. Each
    step is one pass at C speed over all the chunks, not a Python loop (2 GiB: ~34,000 chunks
    in 29 runs)."""
    numbers, offsets, stored = columns
    if not sizes or stored != list(sizes):
        return None  # a chunk mis-sized: named chunk by chunk
    starts = list(itertools.accumulate(sizes, initial=0))
    # a run goes on while the next chunk lies in the same pack right after the one before:
    # while the pack is the same and a chunk's offset in it less its offset in the file too
    deltas = list(map(operator.sub, offsets, starts))
    breaks = map(operator.or_, map(operator.ne, numbers[1:], numbers), map(operator.ne, deltas[1:], deltas))
    cuts = [0, *itertools.compress(range(1, len(numbers)), breaks), len(numbers)]
    return [(f"pack:{packs[numbers[a]]}", offsets[a], starts[b] - starts[a]) for a, b in itertools.pairwise(cuts)]


def _segments_each(store, chunks: ChunkList, name: str) -> list[tuple[str, int, int]]:
    """`_segments` chunk by chunk: loose chunks, and a missing or mis-sized one named."""
    out: list[list] = []
    where = store.packs.locate_many(c for c, _ in chunks.chunks)
    for coid, n in chunks.chunks:
        loc = where.get(coid)
        if loc is None:
            if not os.path.exists(store.path(coid)):
                raise missing_chunk(name, chunks.oid, coid)
            out.append([coid, 0, n])
            continue
        pid, off, size = loc
        if size != n:
            raise corrupt_list(chunks.oid, f"chunk {coid} has {size} bytes, not {n}")
        key = f"pack:{pid}"
        if out and out[-1][0] == key and out[-1][1] + out[-1][2] == off:
            out[-1][2] += n
        else:
            out.append([key, off, n])
    return [tuple(x) for x in out]


def _copy_segment(src: int, dst: int, off: int, length: int) -> None:
    import errno

    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst, length - done, off + done)
            if n == 0:
                break
            done += n
        return
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            raise
    while done < length:
        data = os.pread(src, min(length - done, _BATCH), off + done)
        if not data:
            return
        writer(dst)(memoryview(data))
        done += len(data)


class _PackGone(Exception):
    pass


def _gather(store, batch: list[tuple[str, int]], view: memoryview, name: str, oid: str) -> None:
    """Read the chunks of `batch` into `view`: packed chunks adjacent in a pack (those of one
    add, in file order) with one read per run, loose ones (written by an older cairn) a file
    each."""
    from cairn.objects.localpacks import coalesce

    packed: list = []
    at = 0
    for coid, n in batch:
        loc = store.packs.locate(coid)
        if loc is not None:
            if loc[2] != n:
                raise corrupt_list(oid, f"chunk {coid} has {loc[2]} bytes, not {n}")
            packed.append((at, loc))
        else:
            try:
                with open(store.path(coid), "rb", buffering=0) as f:
                    got = f.readinto(view[at : at + n])
            except FileNotFoundError:
                raise missing_chunk(name, oid, coid) from None
            if got != n:
                raise damaged_chunk(name, oid, coid)
        at += n
    fds: dict[str, int] = {}
    try:
        for pid, off, pos, length in coalesce(packed):
            if pid not in fds:
                try:
                    fds[pid] = os.open(store.packs.pack_path(pid), os.O_RDONLY)
                except FileNotFoundError:
                    raise _PackGone(pid) from None
            done = 0
            while done < length:
                got = os.preadv(fds[pid], [view[pos + done : pos + length]], off + done)
                if got == 0:  # a pack cut short: name the first chunk that is not whole
                    starts = itertools.accumulate((n for _, n in batch), initial=0)
                    short = next(c for (c, n), a in zip(batch, starts, strict=False) if a + n > pos + done)
                    raise damaged_chunk(name, oid, short)
                done += got
    finally:
        for fd in fds.values():
            os.close(fd)


def writer(fd: int) -> Callable[[memoryview], None]:
    def write(data: memoryview) -> None:
        while data:
            data = data[os.write(fd, data) :]

    return write


class ChunkReader(io.RawIOBase):
    """A chunked file read (and sought) chunk by chunk, never whole in memory. The caller
    checked the whole file first; each chunk's size is checked as it is read."""

    def __init__(self, store, chunks: ChunkList) -> None:
        self._store = store
        self._chunks = chunks
        self._starts = list(itertools.accumulate((n for _, n in chunks.chunks), initial=0))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._chunks.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b) -> int:
        if self._pos >= self._chunks.size:
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        coid, n = self._chunks.chunks[i]
        skip = self._pos - self._starts[i]
        want = min(len(b), n - skip)
        try:
            loc = self._store.packs.locate(coid)
            if loc is not None:
                with open(self._store.packs.pack_path(loc[0]), "rb", buffering=0) as f:
                    got = os.preadv(f.fileno(), [memoryview(b)[:want]], loc[1] + skip)
            else:
                with open(self._store.path(coid), "rb", buffering=0) as f:
                    f.seek(skip)
                    got = f.readinto(memoryview(b)[:want])
        except FileNotFoundError:
            raise missing_chunk(self._chunks.oid, self._chunks.oid, coid) from None
        if got != want:
            raise damaged_chunk(self._chunks.oid, self._chunks.oid, coid)
        self._pos += got
        return got


def missing_chunk(name: str, oid: str, coid: str):
    from cairn.errors import ObjectMissingError

    return ObjectMissingError(
        f"{name} cannot be rebuilt: its chunk {coid} is not in the cache (file {oid[:12]})",
        "run `cairn pull` (or `cairn fetch`) to bring the missing chunks from the remote",
        [coid],
    )


def damaged_chunk(name: str, oid: str, coid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"{name} cannot be rebuilt: its chunk {coid} is corrupt (file {oid[:12]}); nothing was written",
        "run `cairn fsck --delete-corrupt`, then `cairn pull` to fetch a good copy",
    )
