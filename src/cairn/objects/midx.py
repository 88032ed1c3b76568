"""The multi-pack index of the local cache: `<cache>/packs/multi.midx` (git's multi-pack-index is
the model), where every packed object is, in one binary file.

At a million packed objects the JSON indexes (`<id>.idx`, the truth) take seconds to parse and
hundreds of MiB as a dict; this file is mmapped instead and searched in place: point lookups by
binary search within the id's first-byte bucket, many ids at once by one linear pass. It is
derived and rebuildable: it names the packs it covers, and a reader that finds it missing,
damaged (its BLAKE3 trailer) or covering other packs than those on disk ignores it and rebuilds
it from the JSON indexes. Layout (little-endian), docs/formats.md:

    header   b"CAIRNMIX", u32 version (1), u32 packs, u32 rows
    packs    32 bytes per pack: its id (BLAKE3), in pack-number order
    fanout   256 x u32: rows whose id's first byte is <= i
    rows     52 bytes each, sorted: id (32 bytes), u32 pack number, u64 offset, u64 size
    trailer  BLAKE3 (32 bytes) of everything before it
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable, Iterable, Iterator

from blake3 import blake3

from cairn.objects.newfile import NewFile

NAME = "multi.midx"
MAGIC = b"CAIRNMIX"
VERSION = 1
_HEAD = struct.Struct("<8sIII")
_TAIL = struct.Struct("<IQQ")  # a row after its id: pack number, offset, size
ROW = 32 + _TAIL.size
_FAN = struct.Struct("<256I")

Location = tuple[str, int, int]  # pack id, offset, size


class Midx:
    """An open, checked multi-pack index. Raises ValueError when the file is damaged."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _HEAD.size + _FAN.size + 32:
                raise ValueError("too short")
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self._check(size)
        except BaseException:
            self._map.close()
            raise

    def _check(self, size: int) -> None:
        m = self._map
        magic, version, npacks, nrows = _HEAD.unpack_from(m, 0)
        if magic != MAGIC or version != VERSION:
            raise ValueError("not a multi-pack index of this version")
        self._rows_at = _HEAD.size + 32 * npacks + _FAN.size
        if size != self._rows_at + ROW * nrows + 32:
            raise ValueError("wrong size")
        if blake3(memoryview(m)[: size - 32]).digest() != m[size - 32 :]:
            raise ValueError("checksum mismatch")
        self.packs = [m[_HEAD.size + 32 * i : _HEAD.size + 32 * (i + 1)].hex() for i in range(npacks)]
        self._fan = _FAN.unpack_from(m, _HEAD.size + 32 * npacks)
        self.count = nrows

    def _row(self, i: int) -> Location:
        pn, off, size = _TAIL.unpack_from(self._map, self._rows_at + ROW * i + 32)
        return self.packs[pn], off, size

    def _lower(self, key: bytes) -> int:
        """The first row whose id is not below `key` (binary search in its first byte's bucket)."""
        lo = self._fan[key[0] - 1] if key[0] else 0
        hi = self._fan[key[0]]
        m, base = self._map, self._rows_at
        while lo < hi:
            mid = (lo + hi) // 2
            at = base + ROW * mid
            if m[at : at + 32] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def find(self, oid: str) -> Location | None:
        key = bytes.fromhex(oid)
        i = self._lower(key)
        at = self._rows_at + ROW * i
        if i < self.count and self._map[at : at + 32] == key:
            return self._row(i)
        return None

    def find_many(self, oids: Iterable[str]) -> dict[str, Location]:
        """Where each of `oids` is packed (those that are). The rows between the least and the
        greatest id asked are read in one pass when they are not far more than the ids (a
        checkout of everything, a push's group of neighbouring ids), else each id is searched."""
        wanted = {bytes.fromhex(o) for o in oids}
        out: dict[str, Location] = {}
        if not wanted:
            return out
        lo, hi = self._lower(min(wanted)), self._lower(max(wanted)) + 1
        hi = min(hi, self.count)
        if hi - lo > 16 * len(wanted):
            for key in wanted:
                loc = self.find(key.hex())
                if loc is not None:
                    out[key.hex()] = loc
            return out
        packs = self.packs
        rows = memoryview(self._map)[self._rows_at + ROW * lo : self._rows_at + ROW * hi]
        for key, pn, off, size in struct.iter_unpack("<32sIQQ", rows):
            if key in wanted and key.hex() not in out:
                out[key.hex()] = (packs[pn], off, size)
        rows.release()
        return out

    def iter_rows(self) -> Iterator[tuple[bytes, int, int, int]]:
        """Every row as (32-byte id, pack number, offset, size), in id order, unpacked in place."""
        rows = memoryview(self._map)[self._rows_at : self._rows_at + ROW * self.count]
        it = struct.iter_unpack("<32sIQQ", rows)
        try:
            yield from it
        finally:
            del it  # holds the view until dropped: released before the view is (an early close too)
            rows.release()

    def merged(self, packs: list[str], more: list[bytes]) -> bytes:
        """The file for `packs` (this index's first) with this index's rows and `more` (encoded
        rows, see `row`), spliced at the byte level: a re-add that sealed one small pack into a
        million rows copies runs of the mapped rows instead of making a million row objects to
        sort (~1 s at 1M). Each new row costs a binary search, so callers use it for few."""
        more = sorted(more)
        fan = list(self._fan)
        added = [0] * 256
        for r in more:
            added[r[0]] += 1
        total = 0
        for i in range(256):
            total += added[i]
            fan[i] += total
        base, view = self._rows_at, memoryview(self._map)
        try:
            parts: list[bytes | memoryview] = [
                _HEAD.pack(MAGIC, VERSION, len(packs), self.count + len(more)),
                *(bytes.fromhex(p) for p in packs),
                _FAN.pack(*fan),
            ]
            at = 0
            for r in more:
                i = self._lower(r[:32])
                parts += (view[base + ROW * at : base + ROW * i], r)
                at = i
            parts.append(view[base + ROW * at : base + ROW * self.count])
            body = b"".join(parts)
        finally:
            parts.clear()
            view.release()
        return body + blake3(body).digest()

    def raw_rows(self) -> list[bytes]:
        base = self._rows_at
        return [self._map[base + ROW * i : base + ROW * (i + 1)] for i in range(self.count)]

    def close(self) -> None:
        self._map.close()


def encode(packs: list[str], rows: list[bytes]) -> bytes:
    """The file for `packs` (in pack-number order) and encoded rows (see `row`), sorted here."""
    rows.sort()
    fan = [0] * 256
    for r in rows:
        fan[r[0]] += 1
    total = 0
    for i in range(256):
        total += fan[i]
        fan[i] = total
    body = b"".join(
        [_HEAD.pack(MAGIC, VERSION, len(packs), len(rows)), *(bytes.fromhex(p) for p in packs), _FAN.pack(*fan), *rows]
    )
    return body + blake3(body).digest()


def row(oid: str, pack_number: int, offset: int, size: int) -> bytes:
    return bytes.fromhex(oid) + _TAIL.pack(pack_number, offset, size)


def write(root: str, data: bytes, tmp_path: Callable[[], str]) -> None:
    """Replace the file whole (a reader sees the old one or the new one, never a mix)."""
    f = NewFile(root, 0o444, tmp_path)
    try:
        f.write(data)
    except BaseException:
        f.discard()
        raise
    f.publish(f"{root}/{NAME}", replace=True)
