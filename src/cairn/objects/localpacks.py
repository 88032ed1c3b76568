"""Packed objects in the local cache: `<cache>/packs/<id>.pack` and `<id>.idx`.

Creating and opening one file per object is most of what a chunked add and checkout would cost
(a 2 GiB file is ~34,000 chunks of ~60 KiB), so the objects one command writes go
sequentially into packs of up to PACK_TARGET bytes (Xet's blocks are up to 64 MiB), and a
file's chunks are read back with a few large reads. The format is the remotes' (objects/pack.py):
the pack is the objects' bytes concatenated, the index canonical JSON of [oid, offset, size]
rows, the pack's id the BLAKE3 of those rows. Chunks use it now; small objects can later.

Crash safety: a pack is written as an unnamed file (or a temp file) and linked into place
complete, then its index the same way: an index only ever names a whole pack, and a killed
writer leaves at most a pack without an index, which nothing reads and gc removes. Packs are
never modified: gc writes a new pack of the objects it keeps, then drops the old one
(index first). Every object read from a pack is checked against its id by its reader.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator

from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects import pack
from cairn.objects.newfile import NewFile

PACK_TARGET = 64 * 1024 * 1024
_READONLY = 0o444

Location = tuple[str, int, int]  # pack id, offset, size


class LocalPacks:
    """The packs of one cache folder, and where each packed object is. The indexes are read
    once, on the first lookup; packs written later by this process are added as they are
    sealed, those of other processes by `refresh` (a reader calls it when an object or a pack
    it expected is not there)."""

    def __init__(self, root: str, tmp_path: Callable[[str], str]) -> None:
        self.root = root
        self._tmp_path = tmp_path
        self._where: dict[str, Location] = {}
        self._rows: dict[str, list[pack.IndexRow]] = {}
        self.damaged: dict[str, CorruptObjectError] = {}  # pack id -> why its index cannot be read
        self._loaded = False
        self._lock = threading.Lock()

    # -- layout ----------------------------------------------------------------------------
    def pack_path(self, pid: str) -> str:
        return f"{self.root}/{pid}.pack"

    def idx_path(self, pid: str) -> str:
        return f"{self.root}/{pid}.idx"

    # -- lookups ---------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._loaded:
            self.refresh()

    def refresh(self) -> None:
        """Read the indexes not read yet; forget packs that are gone (gc rewrote them)."""
        with self._lock:
            try:
                names = os.listdir(self.root)
            except FileNotFoundError:
                names = []
            on_disk = {n[:-4] for n in names if n.endswith(".idx") and len(n) == 68}
            for pid in [p for p in self._rows if p not in on_disk]:
                self._forget(pid)
            for pid in on_disk - self._rows.keys() - self.damaged.keys():
                self._read_index(pid)
            self.damaged = {p: e for p, e in self.damaged.items() if p in on_disk}
            self._loaded = True

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
        # an object also held by another pack stays findable there
        for other, rows in self._rows.items():
            for oid, off, size in rows:
                self._where.setdefault(oid, (other, off, size))

    def locate(self, oid: str) -> Location | None:
        self._load()
        return self._where.get(oid)

    def has(self, oid: str) -> bool:
        self._load()
        return oid in self._where

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
    def writer(self, target: int = PACK_TARGET) -> PackWriter:
        return PackWriter(self, target)

    def _sealed(self, pid: str, rows: list[pack.IndexRow]) -> None:
        with self._lock:
            if self._loaded:
                self._add(pid, rows)

    def drop(self, pid: str) -> None:
        """Remove a pack: its index first, so no reader is ever sent to a missing pack."""
        for path in (self.idx_path(pid), self.pack_path(pid)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
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


class PackWriter:
    """Objects appended to new packs, each sealed (published with its index) at `target` bytes
    and on `close`. Thread-safe: a fetch lands objects from several downloads at once. Use
    as a context manager: an error discards the unsealed pack (sealed ones stay: complete)."""

    def __init__(self, packs: LocalPacks, target: int) -> None:
        self._packs = packs
        self._target = target
        self._file: NewFile | None = None
        self._rows: list[pack.IndexRow] = []
        self._offset = 0
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self.written = 0

    def __contains__(self, oid: str) -> bool:
        return oid in self._ids

    def add(self, oid: str, data: bytes | memoryview) -> None:
        with self._lock:
            if oid in self._ids:
                return
            if self._file is None:
                os.makedirs(self._packs.root, exist_ok=True)
                self._file = NewFile(self._packs.root, _READONLY, lambda: self._packs._tmp_path("pack"))
            self._file.write(data)
            n = len(data)
            self._rows.append((oid, self._offset, n))
            self._ids.add(oid)
            self._offset += n
            self.written += n
            if self._offset >= self._target:
                self._seal()

    def _seal(self) -> None:
        f, rows = self._file, self._rows
        if f is None:
            return
        self._file, self._rows, self._offset = None, [], 0
        pid = pack.pack_id(rows)
        f.publish(self._packs.pack_path(pid))  # an existing pack of the same rows holds the same bytes
        idx = NewFile(self._packs.root, _READONLY, lambda: self._packs._tmp_path("idx"))
        try:
            idx.write(pack.encode_index(pid, rows))
        except BaseException:
            idx.discard()
            raise
        idx.publish(self._packs.idx_path(pid))
        self._packs._sealed(pid, rows)

    def close(self) -> None:
        with self._lock:
            self._seal()

    def discard(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.discard()
            self._file, self._rows, self._offset = None, [], 0

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


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
