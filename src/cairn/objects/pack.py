"""Packs: many small objects in one remote file, so a 100k-file dataset is not 100k requests
(restic and git do the same).

A pack is the plain concatenation of object bytes. Its index (`<id>.idx`) is canonical JSON
listing [oid, offset, size] per object, sorted by oid; the pack's id is the BLAKE3 of that
list. Every object is checked against its own id whenever it is read, so the list fixes the
pack's bytes as surely as a hash over them would, without hashing every byte a second time.
The pack is uploaded before its index, so an index on the remote always describes a whole pack."""

from __future__ import annotations

import json
from collections.abc import Iterable

from blake3 import blake3

from cairn.errors import CorruptObjectError

PACK_VERSION = 1
# Objects below this size travel in packs; larger ones are stored as they are and streamed.
PACK_THRESHOLD = 2 * 1024 * 1024
PACK_TARGET = 16 * 1024 * 1024

IndexRow = tuple[str, int, int]  # oid, offset, size


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


def parse_index(data: bytes, name: str) -> tuple[str, list[IndexRow]]:
    try:
        doc = json.loads(data)
        if doc.get("version") != PACK_VERSION:
            raise CorruptObjectError(
                f"pack index {name} has format version {doc.get('version')!r}; this cairn reads {PACK_VERSION}",
                "upgrade cairn",
            )
        rows = [(str(o), int(off), int(size)) for o, off, size in doc["objects"]]
        return str(doc["pack"]), rows
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CorruptObjectError(
            f"pack index {name} on the remote is damaged ({e})",
            "run `cairn gc --remote NAME --yes` to drop it; the objects will be pushed again",
        ) from None


def group(sizes: Iterable[tuple[str, int]], target: int = PACK_TARGET) -> list[list[str]]:
    """Split (oid, size) pairs into packs of about `target` bytes each."""
    packs: list[list[str]] = []
    current: list[str] = []
    total = 0
    for oid, size in sizes:
        if current and total + size > target:
            packs.append(current)
            current, total = [], 0
        current.append(oid)
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
