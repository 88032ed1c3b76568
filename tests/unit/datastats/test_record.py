"""The stats record format and the local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.datastats.record import STATS_VERSION, StatsStore, build, decode, encode
from cairn.errors import DataError

OID = "ab" * 32


def test_round_trip_and_canonical_bytes(tmp_path: Path) -> None:
    rec = build(OID, "table", {"rows": 2, "columns": [{"name": "x", "mean": float("nan")}]})
    data = encode(rec)
    assert data == encode(json.loads(data))  # canonical: sorted keys, no spaces
    assert json.loads(data)["columns"][0]["mean"] is None  # JSON has no NaN
    st = StatsStore(tmp_path)
    st.put(rec)
    assert st.path(OID) == tmp_path / "stats" / "ab" / f"{OID[2:]}.json"
    assert st.get(OID)["rows"] == 2 and st.list() == [OID]
    assert not list((tmp_path / "stats" / "ab").glob(".*.tmp"))
    assert st.get("cd" * 32) is None


def test_unknown_version_is_refused() -> None:
    with pytest.raises(DataError) as e:
        decode(json.dumps({"version": 99, "data": OID, "kind": "table"}).encode(), OID, "of x")
    assert e.value.message == f"the stats record of x has format version 99; this cairn reads version {STATS_VERSION}"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (json.dumps({"version": 1, "data": "cd" * 32, "kind": "table"}).encode(), "it describes another object"),
        (json.dumps({"version": 1, "data": OID, "kind": "pictures"}).encode(), "unknown kind"),
    ],
)
def test_damaged_records(data: bytes, why: str) -> None:
    with pytest.raises(DataError) as e:
        decode(data, OID, "of x")
    assert e.value.message == f"the stats record of x is damaged: {why}"
    assert e.value.hint == "delete it; `cairn data stats` computes it again"
