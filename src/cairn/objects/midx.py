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
from collections.abc import Callable, Iterable, Iterator, Sequence

from blake3 import blake3

from cairn.objects.columns import columns
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
        return self._bisect(key, self._fan[key[0] - 1] if key[0] else 0, self._fan[key[0]])

    def _bisect(self, key: bytes, lo: int, hi: int) -> int:
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
        wanted = {bytes.fromhex(o): o for o in oids}  # each id's hex kept: no .hex() per row found
        out: dict[str, Location] = {}
        if not wanted:
            return out
        lo, hi = self._lower(min(wanted)), self._lower(max(wanted)) + 1
        hi = min(hi, self.count)
        if hi - lo > 16 * len(wanted):
            for o in wanted.values():
                loc = self.find(o)
                if loc is not None:
                    out[o] = loc
            return out
        packs = self.packs
        rows = memoryview(self._map)[self._rows_at + ROW * lo : self._rows_at + ROW * hi]
        for key, pn, off, size in struct.iter_unpack("<32sIQQ", rows):
            o = wanted.get(key)
            if o is not None and o not in out:
                out[o] = (packs[pn], off, size)
        rows.release()
        return out

    def columns_for(self, keys: Sequence[bytes]) -> tuple[list[int], list[int], list[int]] | None:
        """(pack numbers, offsets, sizes) of `keys` (32-byte ids), in their order; None when one
        of them is not here. The rows are unpacked column by column and their ids put in one
        dict, all at C speed (no tuple per row), so this suits key lists about as long as the
        index: ~34,000 chunks in ~10 ms, where find_many's loop over the rows took ~25."""
        n = self.count
        fields = ("32s20x", "32xI16x", "36xQ8x", "44xQ")  # id, pack number, offset, size
        ids, numbers, offsets, sizes = columns(self._map, self._rows_at, n, "<", fields)
        try:
            rows = list(map(dict(zip(ids, range(n), strict=True)).__getitem__, keys))
        except KeyError:
            return None
        return tuple(list(map(column.__getitem__, rows)) for column in (numbers, offsets, sizes))  # type: ignore[return-value]

    def iter_rows(self) -> Iterator[tuple[bytes, int, int, int]]:
        """Every row as (32-byte id, pack number, offset, size), in id order, unpacked in place."""
        rows = memoryview(self._map)[self._rows_at : self._rows_at + ROW * self.count]
        it = struct.iter_unpack("<32sIQQ", rows)
        try:
            yield from it
        finally:
            del it  # holds the view until dropped: released before the view is (an early close too)
            rows.release()

    def lower_from(self, key: bytes, start: int) -> int:
        """The first row from `start` on whose id is not below `key`: galloping from `start`,
        so a merge that walks the rows in order pays a few comparisons per step."""
        hi = self._fan[key[0]]
        if start >= hi:
            return start
        m, base = self._map, self._rows_at
        lo, step = max(start, self._fan[key[0] - 1] if key[0] else 0), 1
        while lo + step < hi:
            at = base + ROW * (lo + step - 1)
            if m[at : at + 32] >= key:
                hi = lo + step
                break
            lo += step
            step *= 2
        return self._bisect(key, lo, hi)

    def rows_view(self, start: int, end: int) -> memoryview:
        """Rows start..end as stored (each ROW bytes)."""
        return memoryview(self._map)[self._rows_at + ROW * start : self._rows_at + ROW * end]

    def close(self) -> None:
        self._map.close()


class Empty:
    """The index of a cache without packs: lookups find nothing (a first add seals its packs
    into this, to be merged and written at its end)."""

    packs: list[str] = []
    count = 0
    _fan = (0,) * 256

    def find(self, oid: str) -> Location | None:
        return None

    def find_many(self, oids: Iterable[str]) -> dict[str, Location]:
        return {}

    def lower_from(self, key: bytes, start: int) -> int:
        return 0

    def iter_rows(self) -> Iterator[tuple[bytes, int, int, int]]:
        return iter(())

    def rows_view(self, start: int, end: int) -> memoryview:
        return memoryview(b"")

    def close(self) -> None:
        pass


EMPTY = Empty()


def merged(
    m: Midx | Empty, new_packs: list[str], count: int, new_rows: Iterable[tuple[bytes, int, int, int]]
) -> bytearray:
    """The file for `m`'s packs and `new_packs` (numbered after them): `m`'s rows and the `count`
    rows (id, number in `new_packs`, offset, size) of `new_rows`, given in id order, merged in
    one buffer (a million rows as a million bytes objects, sorted, joined and copied once more
    for the trailer took ~200 bytes a row at the end of an add: issue 22)."""
    packs = [*m.packs, *new_packs]
    total = m.count + count
    rows_at = _HEAD.size + 32 * len(packs) + _FAN.size
    out = bytearray(rows_at + ROW * total + 32)
    _HEAD.pack_into(out, 0, MAGIC, VERSION, len(packs), total)
    for i, p in enumerate(packs):
        out[_HEAD.size + 32 * i : _HEAD.size + 32 * (i + 1)] = bytes.fromhex(p)
    fan = [0] * 256
    first = len(m.packs)
    pos = w = 0  # next row of `m`; next row written
    n = 0
    for key, pn, off, size in new_rows:
        j = m.lower_from(key, pos)
        if j > pos:
            out[rows_at + ROW * w : rows_at + ROW * (w + j - pos)] = m.rows_view(pos, j)
            w += j - pos
            pos = j
        at = rows_at + ROW * w
        out[at : at + 32] = key
        _TAIL.pack_into(out, at + 32, first + pn, off, size)
        fan[key[0]] += 1
        w += 1
        n += 1
    if n != count:
        raise ValueError(f"{n} new rows given, {count} announced")
    out[rows_at + ROW * w : rows_at + ROW * total] = m.rows_view(pos, m.count)
    old = m._fan
    below = 0
    for i in range(256):
        below += fan[i]
        fan[i] = old[i] + below
    _FAN.pack_into(out, _HEAD.size + 32 * len(packs), *fan)
    end = len(out) - 32
    out[end:] = blake3(memoryview(out)[:end]).digest()
    return out


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


def write(root: str, data: bytes | bytearray, tmp_path: Callable[[], str]) -> None:
    """Replace the file whole (a reader sees the old one or the new one, never a mix)."""
    f = NewFile(root, 0o444, tmp_path)
    try:
        f.write(data)
    except BaseException:
        f.discard()
        raise
    f.publish(f"{root}/{NAME}", replace=True)
