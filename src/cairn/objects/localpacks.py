"""Packed objects in the local cache: `<cache>/packs/<id>.pack` and `<id>.idx`.

Creating and opening one file per object is most of what a chunked add and checkout would cost
(a 2 GiB file is ~34,000 chunks of ~60 KiB), so the objects one command writes go
sequentially into packs of up to PACK_TARGET bytes (Xet's blocks are up to 64 MiB), and a
file's chunks are read back with a few large reads. The format is the remotes' (objects/pack.py):
the pack is the objects' bytes concatenated, the index canonical JSON of [oid, offset, size]
rows, the pack's id the BLAKE3 of those rows. Chunks use it, and so do the small files an add,
fetch or pull with cache.type copy stores (below SMALL_PACKED bytes: a million files are then ~70
packs instead of a million inodes, docs/decisions.md "Small objects in local packs"). Packs seal
at `cache.pack_size` bytes (PACK_TARGET by default).

Crash safety: a pack is written as an unnamed file (or a temp file) and linked into place
complete, then its index the same way: an index only ever names a whole pack, and a killed
writer leaves at most a pack without an index, which nothing reads and gc removes. Packs are
never modified: gc writes a new pack of the objects it keeps, then drops the old one
(index first). Every object read from a pack is checked against its id by its reader.
"""

from __future__ import annotations

import errno
import os
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects import midx, pack
from cairn.objects.newfile import NewFile

PACK_TARGET = 64 * 1024 * 1024
# Files below this size are packed by an add (copy mode): the size below which a push packs
# objects too (objects/pack.py), so a small object is packed on both sides.
SMALL_PACKED = pack.PACK_THRESHOLD
_FLUSH = 1024 * 1024  # small objects reach the pack a MiB at a time, not one write call each
_READONLY = 0o444

Location = tuple[str, int, int]  # pack id, offset, size
T = TypeVar("T")


class LocalPacks:
    """The packs of one cache folder, and where each packed object is. Lookups use the
    multi-pack index (objects/midx.py) when it covers exactly the packs on disk, else the JSON
    indexes, read once on the first lookup (and the multi-pack index is rebuilt from them for
    the next command). `listing` (gc's plan) goes through the multi-pack index too; `rows` and
    `oids` (fsck, gc's rewrites) read the JSON indexes. Packs
    written later by this process are added as they are sealed, those of other processes by
    `refresh` (a reader calls it when an object or a pack it expected is not there)."""

    def __init__(self, root: str, tmp_path: Callable[[str], str], target: int = PACK_TARGET) -> None:
        self.root = root
        self.target = target  # bytes at which a writer seals its pack (config cache.pack_size)
        self._tmp_path = tmp_path
        self._where: dict[str, Location] = {}
        self._rows: dict[str, list[pack.IndexRow]] = {}
        self.damaged: dict[str, CorruptObjectError] = {}  # pack id -> why its index cannot be read
        self._loaded = False  # the JSON indexes are read (into _where and _rows)
        # else: the multi-pack index in use (midx.EMPTY while there is no pack at all)
        self._midx: midx.Midx | midx.Empty | None = None
        self._recent = _Recent()  # packs sealed by this process since it was opened
        self._lock = threading.Lock()
        # in a helper process of a split add (`keep_sealed`): (id, rows) of each pack it sealed
        self.kept: list[tuple[str, list[pack.IndexRow]]] | None = None

    # -- layout ----------------------------------------------------------------------------
    def pack_path(self, pid: str) -> str:
        return f"{self.root}/{pid}.pack"

    def idx_path(self, pid: str) -> str:
        return f"{self.root}/{pid}.idx"

    # -- lookups ---------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._loaded:
            self.refresh()

    def _on_disk(self) -> set[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return set()
        return {n[:-4] for n in names if n.endswith(".idx") and len(n) == 68}

    def _index(self) -> midx.Midx | midx.Empty | None:
        """The multi-pack index when it is current (midx.EMPTY when there is no pack); None once
        the JSON indexes are read instead (it was missing, damaged or stale: it is rebuilt from
        them for the next command)."""
        if self._loaded or self._midx is not None:
            return self._midx
        with self._lock:
            if self._loaded or self._midx is not None:
                return self._midx
            on_disk = self._on_disk()
            if not on_disk:
                # no pack yet (a first add): the packs this process seals are kept compactly
                # (_Recent), not as the JSON indexes' dicts
                self._midx = midx.EMPTY
                return self._midx
            try:
                found: midx.Midx | None = midx.Midx(f"{self.root}/{midx.NAME}")
            except (OSError, ValueError):
                found = None
            if found is not None and set(found.packs) == on_disk:
                self._midx = found
                return found
            if found is not None:
                found.close()
        self.refresh()
        self._write_midx()
        return None

    def _write_midx(self) -> None:
        """The multi-pack index of every pack read (damaged ones listed without rows, so that it
        still covers what is on disk)."""
        with self._lock:
            pids = sorted(self._rows.keys() | self.damaged.keys())
            rows = [midx.row(o, n, off, size) for n, pid in enumerate(pids) for o, off, size in self._rows.get(pid, ())]
        self._publish_midx(pids, rows)

    def _publish_midx(self, pids: list[str], rows: list[bytes]) -> None:
        if self.kept is not None:
            return  # a helper: the process it helps writes the index
        try:
            if not pids:  # no pack left: no index of them
                os.unlink(f"{self.root}/{midx.NAME}")
                return
            midx.write(self.root, midx.encode(pids, rows), lambda: self._tmp_path("midx"))
        except OSError:
            pass  # none to remove, or a cache this user cannot write: lookups read the JSON indexes

    def update_midx(self, reopen: bool = False) -> None:
        """Bring the multi-pack index up to date after this process sealed or dropped packs: the
        rows of the packs it sealed merged into the index in use, else rebuilt from the JSON
        indexes. With `reopen`, the merged index written becomes the one in use, and the rows
        this process held for its packs are dropped (an add that goes on: ~150 bytes an object)."""
        if self.kept is not None:
            return  # a helper: the process it helps adopts its packs and writes the index
        with self._lock:
            m, recent = self._midx, self._recent
            new_packs, count, rows = list(recent.packs), len(recent), recent.rows()
        if m is None and not self._loaded:
            self._index()  # nothing read yet: rebuilt from the JSON indexes unless current
            return
        if m is not None and not self._loaded:
            if not new_packs:
                return
            if self._on_disk() == set(m.packs) | set(new_packs):
                # the index in use and the new rows, merged as two sorted runs (no list of a
                # million row objects, no copy of the file: issue 22, the 1M-file add)
                try:
                    data = midx.merged(m, new_packs, count, rows)
                    midx.write(self.root, data, lambda: self._tmp_path("midx"))
                except OSError:
                    return  # a cache this user cannot write: lookups read the JSON indexes
                del data
                if reopen:
                    self._reopen(m, set(m.packs) | set(new_packs), count)
                return
            self.refresh()  # another process changed the packs meanwhile: from the JSON indexes
        if self._loaded:
            self._write_midx()

    def _reopen(self, old: midx.Midx | midx.Empty, packs: set[str], count: int) -> None:
        """Use the index just written instead of `old` and the rows held since, when it lists
        every pack they did (another process may have replaced it meanwhile) and nothing was
        sealed since; the old one is not closed (another thread may be searching it)."""
        try:
            found = midx.Midx(f"{self.root}/{midx.NAME}")
        except (OSError, ValueError):
            return
        with self._lock:
            if self._midx is old and not self._loaded and len(self._recent) == count and packs <= set(found.packs):
                self._midx, self._recent = found, _Recent()
                return
        found.close()

    def refresh(self) -> None:
        """Read the indexes not read yet; forget packs that are gone (gc rewrote them)."""
        with self._lock:
            try:
                names = os.listdir(self.root)
            except FileNotFoundError:
                names = []
            on_disk = {n[:-4] for n in names if n.endswith(".idx") and len(n) == 68}
            gone = [p for p in self._rows if p not in on_disk]
            for pid in gone:
                self._forget(pid)
            if gone:
                self._reindex()
            for pid in on_disk - self._rows.keys() - self.damaged.keys():
                self._read_index(pid)
            self.damaged = {p: e for p, e in self.damaged.items() if p in on_disk}
            self._loaded = True
            # the multi-pack index is no longer asked (the JSON indexes cover its packs); it is
            # not closed: another thread may be searching it right now
            self._midx, self._recent = None, _Recent()

    def _read_index(self, pid: str) -> None:
        name = f"packs/{pid}.idx"
        try:
            with open(self.idx_path(pid), "rb") as f:
                named, rows = pack.parse_index(f.read(), name, where="in the cache")
            if named != pid:
                raise pack.damaged_index(name, f"it describes pack {named}", where="in the cache")
        except FileNotFoundError:
            return
        except CorruptObjectError as e:
            self.damaged[pid] = e
            return
        self._add(pid, rows)

    def _add(self, pid: str, rows: list[pack.IndexRow]) -> None:
        self._rows[pid] = rows
        for oid, off, size in rows:
            self._where[oid] = (pid, off, size)

    def _forget(self, pid: str) -> None:
        for oid, _, _ in self._rows.pop(pid, ()):
            if self._where.get(oid, ("",))[0] == pid:
                del self._where[oid]

    def _reindex(self) -> None:
        """An object also held by a pack that stays must stay findable there (once per batch of
        removed packs: a scan of every row)."""
        for pid, rows in self._rows.items():
            for oid, off, size in rows:
                self._where.setdefault(oid, (pid, off, size))

    def reindex(self) -> None:
        with self._lock:
            self._reindex()

    def locate(self, oid: str) -> Location | None:
        m = self._index()
        if m is None:
            return self._where.get(oid)
        return self._recent.get(oid) or m.find(oid)

    def count(self) -> int:
        """How many objects the packs hold (from the index in use, without reading the packs)."""
        m = self._index()
        return len(self._where) if m is None else m.count + len(self._recent)

    def id_set(self) -> set[bytes]:
        """Every packed object's id as 32 bytes, from one pass over the index in use: for a caller
        asking about most of them in batches of random ids (each a binary search otherwise)."""
        m = self._index()
        if m is None:
            return {bytes.fromhex(o) for o in self._where}
        ids = {row[0] for row in m.iter_rows()}
        ids.update(self._recent._at)
        return ids

    def has(self, oid: str) -> bool:
        return self.locate(oid) is not None

    def locate_many(self, oids: Iterable[str]) -> dict[str, Location]:
        """Where each of `oids` that is packed is (see midx.Midx.find_many)."""
        m = self._index()
        if m is None:
            where = self._where
            return {o: where[o] for o in oids if o in where}
        oids = list(oids)
        out = m.find_many(oids)
        recent = self._recent
        if recent.packs:
            for o in oids:
                loc = recent.get(o)
                if loc is not None:
                    out[o] = loc
        return out

    def locate_ids(self, keys: Sequence[bytes]) -> tuple[list[str], tuple[list[int], list[int], list[int]]] | None:
        """Where `keys` (32-byte ids) are, when every one is packed: the pack ids, and each
        key's pack number (in those ids), offset and size (midx.Midx.columns_for). None when one
        is not packed, or when this would not be cheaper than `locate_many`: no current
        multi-pack index, packs sealed since it was read, or an index far larger than `keys`."""
        m = self._index()
        if not isinstance(m, midx.Midx) or self._recent.packs or m.count > 16 * len(keys):
            return None
        columns = m.columns_for(keys)
        return None if columns is None else (m.packs, columns)

    def listing(self) -> Iterator[tuple[str, str, int, int]]:
        """Every packed object as (pack id, object id, offset, size), an object held by two packs
        once per pack: from the multi-pack index when it is current (no JSON parsed, no dict of
        every object built: gc's plan at scale), else from the JSON indexes."""
        m = self._index()
        if m is None:
            for pid in self.pack_ids():
                for oid, off, size in self.rows(pid):
                    yield pid, oid, off, size
            return
        packs = m.packs
        for key, pn, off, size in m.iter_rows():
            yield packs[pn], key.hex(), off, size
        recent = self._recent
        for key, pn, off, size in recent.rows():  # sealed by this process since it was opened
            yield recent.packs[pn], key.hex(), off, size

    def sealed_in(self, oid: str) -> str | None:
        """The pack holding `oid` among those sealed since the indexes in use were read (with
        the JSON indexes read, any pack); None when none is known without searching the
        multi-pack index (before any lookup: none)."""
        if self._loaded:
            return (self._where.get(oid) or (None,))[0]
        loc = self._recent.get(oid) if self._midx is not None else None
        return None if loc is None else loc[0]

    def oids(self) -> Iterator[str]:
        self._load()
        return iter(list(self._where))

    def pack_ids(self) -> list[str]:
        self._load()
        return sorted(self._rows)

    def rows(self, pid: str) -> list[pack.IndexRow]:
        self._load()
        return self._rows.get(pid, [])

    def orphans(self) -> list[str]:
        """Packs without an index (left by a killed writer): never read, removed by gc."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        idx = {n[:-4] for n in names if n.endswith(".idx")}
        return sorted(n[:-5] for n in names if n.endswith(".pack") and n[:-5] not in idx)

    # -- reading ---------------------------------------------------------------------------
    def read(self, oid: str) -> bytes | None:
        """A packed object's bytes as stored (the caller checks them); None when not packed."""
        for _ in range(2):
            loc = self.locate(oid)
            if loc is None:
                return None
            pid, off, size = loc
            try:
                with open(self.pack_path(pid), "rb", buffering=0) as f:
                    return os.pread(f.fileno(), size, off)
            except FileNotFoundError:
                self.refresh()  # rewritten by a gc since the indexes were read
        return None

    def verify(self, oid: str) -> bool:
        data = self.read(oid)
        if data is None:
            raise FileNotFoundError(oid)
        return blake3(data).hexdigest() == oid

    # -- writing ---------------------------------------------------------------------------
    def writer(self, target: int | None = None, defer: bool = False, drop_behind: bool = False) -> PackWriter:
        return PackWriter(self, self.target if target is None else target, defer, drop_behind)

    def adopt(self, pid: str, columns: Columns) -> None:
        """A pack a helper process sealed (a split add), its rows as `columns` made them: found by
        lookups from now on, and merged into the multi-pack index by `update_midx` as this
        process's own are."""
        with self._lock:
            if self._loaded:
                self._add(pid, rows_of(columns))
            elif self._midx is not None:
                self._recent.add_columns(pid, columns)
            # neither read yet: the first lookup reads the disk, which has this pack

    def open_index(self) -> None:
        """Open the multi-pack index now (or read the JSON indexes), so that packs sealed or
        adopted from here on join the index in use (before, they would be left for the first
        lookup to find on disk, through every pack's JSON index)."""
        self._index()

    def keep_sealed(self) -> None:
        """In a helper process of a split add: every pack sealed from now on, by any writer (small
        files, a big file's chunks), is listed in `kept` for the process it helps to adopt, and
        the multi-pack index is left to that process (never written here)."""
        self.kept = []

    def _sealed(self, pid: str, rows: list[pack.IndexRow]) -> None:
        with self._lock:
            if self.kept is not None:
                self.kept.append((pid, rows))
            if self._loaded:
                self._add(pid, rows)
            elif self._midx is not None:
                self._recent.add(pid, rows)
            # neither read yet: the first lookup reads the disk, which has this pack

    def drop(self, pid: str) -> None:
        """Remove a pack: its index first, so no reader is ever sent to a missing pack. Call
        `reindex` after a batch of drops."""
        for path in (self.idx_path(pid), self.pack_path(pid)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if not self._loaded:
            self.refresh()  # the multi-pack index still names the pack: from the JSON indexes
        with self._lock:
            self._forget(pid)
            self.damaged.pop(pid, None)

    def rewrite(self, pid: str, drop: set[str]) -> int:
        """Replace pack `pid` by a pack of its objects not in `drop` (each verified: a damaged
        object is never carried into a new pack), or remove it when none is left. Returns
        the bytes freed."""
        rows = self.rows(pid)
        keep = sorted((r for r in rows if r[0] not in drop), key=lambda r: r[1])
        before = sum(r[2] for r in rows)
        kept = 0
        if keep:
            with open(self.pack_path(pid), "rb", buffering=0) as f, self.writer() as w:
                for oid, off, size in keep:
                    data = os.pread(f.fileno(), size, off)
                    if len(data) == size and blake3(data).hexdigest() == oid:
                        w.add(oid, data)
                        kept += size
        self.drop(pid)
        return before - kept


class _Recent:
    """The packs a process sealed since it opened the multi-pack index, and where their objects
    are: one dict of 32-byte ids to one int each (pack number, offset and size packed
    together). ~170 bytes an object, where a dict of hex ids to location tuples and each pack's
    row tuples took ~400 (issue 22: the add of 1M files peaked at 1.5 GB)."""

    def __init__(self) -> None:
        self.packs: list[str] = []
        self._at: dict[bytes, int] = {}

    def add(self, pid: str, rows: list[pack.IndexRow]) -> None:
        base = len(self.packs) << _PACK_SHIFT
        self.packs.append(pid)
        at = self._at
        for oid, off, size in rows:  # both below 2**48 (pack.py's bounds on any index row)
            at[bytes.fromhex(oid)] = base | off << _OFF_SHIFT | size

    def add_columns(self, pid: str, columns: Columns) -> None:
        ids, offsets, sizes = columns
        base = len(self.packs) << _PACK_SHIFT
        self.packs.append(pid)
        keys = [ids[i : i + 32] for i in range(0, len(ids), 32)]
        values = [base | off << _OFF_SHIFT | size for off, size in zip(offsets, sizes, strict=True)]
        self._at.update(zip(keys, values, strict=True))

    def get(self, oid: str) -> Location | None:
        v = self._at.get(bytes.fromhex(oid)) if self._at else None
        if v is None:
            return None
        return self.packs[v >> _PACK_SHIFT], (v >> _OFF_SHIFT) & _MASK, v & _MASK

    def __len__(self) -> int:
        return len(self._at)

    def rows(self) -> Iterator[tuple[bytes, int, int, int]]:
        """Every object's (id, pack number, offset, size), in id order (the ids are sorted
        now; the rows made as they are read)."""
        at = self._at
        return ((k, (v := at[k]) >> _PACK_SHIFT, (v >> _OFF_SHIFT) & _MASK, v & _MASK) for k in sorted(at))


_OFF_SHIFT = 48
_PACK_SHIFT = 96
_MASK = (1 << 48) - 1

# A pack's index rows as a helper process sends them (a split add): the ids' 32 bytes each, back
# to back, and the offsets and sizes as arrays of u64. Marshalled as (oid, offset, size) tuples,
# a helper's rows took ~250 bytes an object in the adding process until adopted (issue 22).
Columns = tuple[bytes, "array[int]", "array[int]"]


def columns(rows: list[pack.IndexRow]) -> Columns:
    return (
        b"".join([bytes.fromhex(r[0]) for r in rows]),
        array("Q", [r[1] for r in rows]),
        array("Q", [r[2] for r in rows]),
    )


def rows_of(cols: Columns) -> list[pack.IndexRow]:
    ids, offsets, sizes = cols
    starts = range(0, len(ids), 32)
    return [(ids[i : i + 32].hex(), off, size) for i, off, size in zip(starts, offsets, sizes, strict=True)]


class PackWriter:
    """Objects appended to new packs, each sealed (published with its index) at `target` bytes
    and on `close`. Thread-safe: a fetch lands objects from several downloads at once. Use
    as a context manager: an error discards the unsealed pack (sealed ones stay: complete).
    With `defer`, full packs are kept unpublished (unnamed files) until `close`, so an error
    discards everything written (an add that finds its file changed while it was copied).
    With `drop_behind`, the packs it seals leave the page cache as they are written (see
    `_cached_behind`)."""

    def __init__(self, packs: LocalPacks, target: int, defer: bool = False, drop_behind: bool = False) -> None:
        self._packs = packs
        self._target = target
        self._defer = defer
        self._drop_behind = drop_behind and _FADVISE
        self._behind: str | None = None  # the pack sealed last, still in the page cache
        self._held: list[tuple[NewFile, list[pack.IndexRow]]] = []
        self._file: NewFile | None = None
        self._rows: list[pack.IndexRow] = []
        self._offset = 0
        self._buf = bytearray()
        # ids of the objects not published yet (the open pack, and held ones): those of the
        # published packs are found in `packs` (a set of every id was ~100 bytes an object)
        self._ids: set[str] = set()
        self._published: set[str | None] = set()  # the packs this writer sealed
        self._lock = threading.Lock()
        self.written = 0
        self.sealed = 0  # packs published

    def __contains__(self, oid: str) -> bool:
        return oid in self._ids

    def add(self, oid: str, data: bytes | memoryview) -> None:
        with self._lock:
            if oid in self._ids or self._packs.sealed_in(oid) in self._published:
                return
            self._open()
            self._buf += data
            if len(self._buf) >= _FLUSH:
                self._flush()
            self._appended([(oid, len(data))])

    def add_run(self, src: int, offset: int, rows: list[tuple[str, int]]) -> None:
        """Append objects lying back to back at `offset` in the open file `src` (the new chunks
        of an add): the kernel copies them (copy_file_range, as `cp` does: no pass through
        Python), falling back to read and write where it cannot. The caller has hashed them."""
        length = sum(n for _, n in rows)
        with self._lock:
            self._open()
            self._flush()
            _copy_range(src, self._open(), offset, length)
            self._appended(rows)

    def _open(self) -> NewFile:
        """The pack being written (a new one after a seal); the caller holds the lock."""
        if self._file is None:
            os.makedirs(self._packs.root, exist_ok=True)
            self._file = NewFile(self._packs.root, _READONLY, lambda: self._packs._tmp_path("pack"))
        return self._file

    def _flush(self) -> None:
        if self._buf and self._file is not None:
            self._file.write(self._buf)
            self._buf.clear()

    def _appended(self, rows: list[tuple[str, int]]) -> None:
        """Index the objects just written back to back at the end of the open pack; seal it
        once it reaches its target size."""
        for oid, n in rows:
            self._rows.append((oid, self._offset, n))
            self._ids.add(oid)
            self._offset += n
            self.written += n
        if self._offset >= self._target:
            self._seal()

    def _seal(self, final: bool = False) -> None:
        f, rows = self._file, self._rows
        if f is not None:
            self._flush()
            self._file, self._rows, self._offset = None, [], 0
            self._held.append((f, rows))
        if self._defer and not final:
            return
        while self._held:
            self._publish(*self._held.pop(0))
        if self._file is None:
            # all published, each now found in `packs` (sealed before its ids leave this set)
            self._ids = set()

    def _publish(self, f: NewFile, rows: list[pack.IndexRow]) -> None:
        pid, index = pack.index_of(rows)
        if self._drop_behind:
            _fadvise(f.fd, 0, 0, _DONTNEED)  # dirty pages: starts their writeback, drops none yet
        f.publish(self._packs.pack_path(pid))  # an existing pack of the same rows holds the same bytes
        idx = NewFile(self._packs.root, _READONLY, lambda: self._packs._tmp_path("idx"))
        try:
            idx.write(index)
        except BaseException:
            idx.discard()
            raise
        idx.publish(self._packs.idx_path(pid))
        self._packs._sealed(pid, rows)
        self._published.add(pid)
        self.sealed += 1
        if self._drop_behind:
            self._cached_behind(self._packs.pack_path(pid))

    def _cached_behind(self, path: str) -> None:
        """Drop the pack sealed before `path` from the page cache (written back by now: its
        writeback started at its seal), so that an add keeps at most two of its packs cached.
        Otherwise a big add leaves every pack it wrote there (4.5 GB at 1M files), and the
        kernel makes room by evicting the least recently used pages: the files the add has
        still to read, which it then reads back from disk one by one (issue 22: at 1M files,
        3.75 GB read back, most of the add's kernel time). Pages still dirty are left alone."""
        behind, self._behind = self._behind, path
        if behind is None:
            return
        try:
            fd = os.open(behind, os.O_RDONLY)
        except OSError:  # gone (a gc meanwhile): nothing to drop
            return
        try:
            _fadvise(fd, 0, 0, _DONTNEED)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._seal(final=True)

    def discard(self) -> None:
        with self._lock:
            if self._file is not None:
                self._held.append((self._file, []))
            for f, _ in self._held:
                f.discard()
            self._file, self._rows, self._offset, self._held = None, [], 0, []
            self._ids = set()
            self._buf = bytearray()  # not clear(): a failed write's traceback may still view it

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)
_FADVISE = hasattr(os, "posix_fadvise")  # not on macOS: packs stay cached as any file does
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)


def _fadvise(fd: int, offset: int, length: int, advice: int) -> None:
    try:
        os.posix_fadvise(fd, offset, length, advice)
    except OSError:
        pass  # a hint only (a file system that takes none)


def _copy_range(src: int, dst: NewFile, offset: int, length: int) -> None:
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst.fd, length - done, offset + done)
            if n == 0:
                raise OSError(errno.EIO, "the file got shorter while it was copied")
            done += n
        return
    except OSError as e:
        if e.errno not in _NO_KERNEL_COPY:
            raise
    while done < length:  # another file system, or one that cannot: through user space
        data = os.pread(src, min(length - done, 8 << 20), offset + done)
        if not data:
            raise OSError(errno.EIO, "the file got shorter while it was copied")
        dst.write(data)
        done += len(data)


# packed objects read together (checkout, push): at most this span of one pack per read, so
# memory per reading thread stays bounded
SPAN = 8 * 1024 * 1024


def runs(located: Iterable[tuple[T, Location]], most: int | None = None) -> list[list[tuple[T, Location]]]:
    """Located items grouped for one read each: runs of one pack in offset order, spanning at most
    SPAN bytes and holding at most `most` items (a run always holds at least one)."""
    out: list[list[tuple[T, Location]]] = []
    for p in sorted(located, key=lambda p: (p[1][0], p[1][1])):
        pid, off, size = p[1]
        if out:
            last = out[-1]
            first = last[0][1]
            if first[0] == pid and (most is None or len(last) < most) and off + size - first[1] <= SPAN:
                last.append(p)
                continue
        out.append([p])
    return out


def coalesce(locs: Iterable[tuple[int, Location]]) -> list[tuple[str, int, int, int]]:
    """(buffer position, location) pairs in buffer order, merged into runs that are adjacent in
    both the buffer and one pack: (pack id, pack offset, buffer position, length) each."""
    runs: list[list] = []
    for at, (pid, off, size) in locs:
        if runs:
            last = runs[-1]
            if last[0] == pid and last[1] + last[3] == off and last[2] + last[3] == at:
                last[3] += size
                continue
        runs.append([pid, off, at, size])
    return [tuple(r) for r in runs]
