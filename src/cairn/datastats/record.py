"""The stats record of one data version, stored next to the object it describes.

A record is canonical JSON (sorted keys, no NaN) named by the id of the data it describes:
`<cache>/stats/<2 hex>/<62 hex>.json` locally and `stats/<oid>.json` on a remote. Statistics
are a function of the bytes, so one record per object id is computed once and shared by every
path, branch and clone holding that version. Format in docs/formats.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cairn.errors import DataError
from cairn.objects.hashing import is_oid
from cairn.objects.records import RecordDir

STATS_VERSION = 1
KINDS = ("table", "files")


def build(data_oid: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"version": STATS_VERSION, "data": data_oid, "kind": kind, **body}


def encode(rec: dict[str, Any]) -> bytes:
    return json.dumps(_finite(rec), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def decode(data: bytes, oid: str, where: str) -> dict[str, Any]:
    """The record for `oid`, or DataError naming `where` when it is not one."""
    try:
        rec = json.loads(data)
    except ValueError:
        raise _bad(where, "not JSON") from None
    if not isinstance(rec, dict):
        raise _bad(where, "not a JSON object")
    if rec.get("version") != STATS_VERSION:
        raise DataError(
            f"the stats record {where} has format version {rec.get('version')!r}; this cairn reads version "
            f"{STATS_VERSION}",
            "upgrade cairn, or delete the record to compute it again",
        )
    if rec.get("data") != oid or rec.get("kind") not in KINDS:
        raise _bad(where, "it describes another object" if rec.get("data") != oid else "unknown kind")
    return rec


def _bad(where: str, why: str) -> DataError:
    return DataError(f"the stats record {where} is damaged: {why}", "delete it; `cairn data stats` computes it again")


def _finite(v: Any) -> Any:
    """JSON has no NaN or infinity: such a value (a mean of nothing) is stored as null."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


class StatsStore(RecordDir):
    """Records in the local cache, written once (temp file + rename)."""

    def __init__(self, cache_root: Path) -> None:
        super().__init__(Path(cache_root) / "stats")

    def get(self, oid: str) -> dict[str, Any] | None:
        try:
            data = self.path(oid).read_bytes()
        except FileNotFoundError:
            return None
        return decode(data, oid, f"of {oid[:12]} in the cache")

    def has(self, oid: str) -> bool:
        return self.path(oid).is_file()

    def raw(self, oid: str) -> bytes:
        return self.path(oid).read_bytes()

    def put(self, rec: dict[str, Any]) -> bytes:
        data = encode(rec)
        self.put_raw(rec["data"], data)
        return data

    def put_raw(self, oid: str, data: bytes) -> None:
        if not is_oid(oid):
            raise ValueError(f"not an object id: {oid!r}")
        super().put_raw(oid, data)

    def list(self) -> list[str]:
        """Ids of the data versions that have a record here."""
        return self.keys()
