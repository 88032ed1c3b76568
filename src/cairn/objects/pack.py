"""Packs: many small objects in one remote file, so a 100k-file dataset is not 100k requests
(restic and git do the same).

A pack is the plain concatenation of object bytes. Its index (`<id>.idx`) is canonical JSON
listing [oid, offset, size] per object, sorted by oid; the pack's id is the BLAKE3 of that
list. Every object is checked against its own id whenever it is read, so the list fixes the
pack's bytes as surely as a hash over them would, without hashing every byte a second time.
The pack is uploaded before its index, so an index on the remote always describes a whole pack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TypeVar

from blake3 import blake3

from cairn.errors import CorruptObjectError, shown

PACK_VERSION = 1
# Objects below this size travel in packs; larger ones are stored as they are and streamed.
PACK_THRESHOLD = 2 * 1024 * 1024
PACK_TARGET = 16 * 1024 * 1024

IndexRow = tuple[str, int, int]  # oid, offset, size
P = TypeVar("P", bound=tuple)


def build(objects: Iterable[tuple[str, bytes]]) -> tuple[str, bytes, bytes]:
    """(pack id, pack bytes, index bytes) for (oid, data) pairs."""
    parts: list[bytes] = []
    rows: list[list] = []
    offset = 0
    for oid, data in objects:
        parts.append(data)
        rows.append([oid, offset, len(data)])
        offset += len(data)
    pid = pack_id(rows)
    return pid, b"".join(parts), encode_index(pid, rows)


def _sorted_rows(rows: Iterable[IndexRow | list]) -> list[list]:
    return sorted([o, off, size] for o, off, size in rows)


def pack_id(rows: Iterable[IndexRow | list]) -> str:
    """A pack's id: the BLAKE3 of its rows, sorted, as the canonical JSON its index holds."""
    return blake3(json.dumps(_sorted_rows(rows), separators=(",", ":")).encode()).hexdigest()


def encode_index(pack_id: str, rows: Iterable[IndexRow | list]) -> bytes:
    """The index of a pack: its [oid, offset, size] rows sorted by oid, as canonical JSON."""
    doc = {"objects": _sorted_rows(rows), "pack": pack_id, "version": PACK_VERSION}
    return json.dumps(doc, separators=(",", ":")).encode()


def index_of(rows: Iterable[IndexRow]) -> tuple[str, bytes]:
    """(pack id, index bytes) for a pack's rows, its sorted rows encoded once for both (what
    `pack_id` and `encode_index` give, at half the cost)."""
    listed = json.dumps(sorted(rows), separators=(",", ":"))
    pid = blake3(listed.encode()).hexdigest()
    return pid, f'{{"objects":{listed},"pack":"{pid}","version":{PACK_VERSION}}}'.encode()


def parse_index(data: bytes, name: str, where: str = "on the remote") -> tuple[str, list[IndexRow]]:
    """The pack id and [oid, offset, size] rows of an index read from a remote (or, `where`
    "in the cache", a local pack's). Every field is checked: the rows become range requests and
    cache writes, and a remote may be shared with people (or tools) that write anything."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        version = doc.get("version")
        if type(version) is not int or version != PACK_VERSION:
            raise CorruptObjectError(
                f"pack index {name} has format version {shown(version)}; this cairn reads {PACK_VERSION}",
                "upgrade cairn",
            )
        pid, objects = doc["pack"], doc["objects"]
        if type(pid) is not str or not _OID(pid):
            raise ValueError("the pack id is not 64 lowercase hex digits")
        if type(objects) is not list:
            raise ValueError("`objects` is not a list")
        rows = [_row(r) for r in objects]
        if len({r[0] for r in rows}) != len(rows):
            raise ValueError("an object is listed twice")
        return pid, rows
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        # RecursionError: JSON nested thousands deep, which no index cairn writes holds
        reason = (
            "nested too deeply"
            if isinstance(e, RecursionError)
            else (f"missing {e}" if isinstance(e, KeyError) else str(e))
        )
        raise damaged_index(name, reason, where) from None


def damaged_index(name: str, reason: str, where: str = "on the remote") -> CorruptObjectError:
    if where == "on the remote":
        hint = "run `cairn gc --remote NAME --yes` to drop it; the objects will be pushed again"
    else:
        hint = "run `cairn fsck --delete-corrupt` to drop the pack, then `cairn pull` (or `cairn add` again)"
    return CorruptObjectError(f"pack index {name} {where} is damaged ({reason})", hint)


_OID = re.compile("[0-9a-f]{64}").fullmatch
# Far above anything cairn packs (small objects and trees), and low enough that reading a
# claimed size never asks for more memory than a machine has (a packed object is read whole) or
# overflows the SQLite integers the remote's index is kept in.
_OFFSETS = 2**48
_SIZES = 2**32


def _row(row: object) -> IndexRow:
    if type(row) is not list or len(row) != 3:
        raise ValueError(f"a row is not [oid, offset, size]: {shown(row)}")
    oid, off, size = row
    if type(oid) is not str or not _OID(oid):
        raise ValueError(f"invalid object id {shown(oid)}")
    if type(off) is not int or type(size) is not int or not (0 <= off < _OFFSETS and 0 <= size < _SIZES):
        raise ValueError(f"invalid offset or size for {oid}")
    return oid, off, size


def group(sizes: Iterable[tuple[str, int]], target: int = PACK_TARGET) -> list[list[str]]:
    """Split (oid, size) pairs into packs of about `target` bytes each."""
    return [[oid for oid, _ in g] for g in group_pairs(sizes, target)]


def group_pairs(sizes: Iterable[P], target: int = PACK_TARGET) -> list[list[P]]:
    """Split (oid, size, ...) tuples into packs of about `target` bytes each, in their order,
    keeping the tuples."""
    packs: list[list[P]] = []
    current: list[P] = []
    total = 0
    for pair in sizes:
        size = pair[1]
        if current and total + size > target:
            packs.append(current)
            current, total = [], 0
        current.append(pair)
        total += size
    if current:
        packs.append(current)
    return packs


def ranges(rows: list[IndexRow], gap: int = 256 * 1024) -> list[list[IndexRow]]:
    """Coalesce objects of one pack into runs read with one range request each."""
    runs: list[list[IndexRow]] = []
    for row in sorted(rows, key=lambda r: r[1]):
        if runs and row[1] - (runs[-1][-1][1] + runs[-1][-1][2]) <= gap:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs
