"""An environment record as a cache object: canonical JSON (sorted keys, no blanks, UTF-8),
so the same environment always has the same object id. Versioned; unknown versions are refused."""

from __future__ import annotations

import json
from typing import Any

from cairn.errors import DataError

VERSION = 1


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes, oid: str) -> dict[str, Any]:
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise DataError(
            f"environment record {oid[:12]} is not an environment record",
            "run `cairn fsck`; rerun the stage (`cairn repro -f STAGE`) to record its environment again",
        )
    if record.get("version") != VERSION:
        raise DataError(
            f"environment record {oid[:12]} has format version {record.get('version')!r}; this cairn reads {VERSION}",
            "upgrade cairn",
        )
    return record
