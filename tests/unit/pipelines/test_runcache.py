"""Run-cache keys (what makes two runs the same) and the entry store."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cairn.pipelines.lock import PathState
from cairn.pipelines.runcache import RunCache, key

A, B = "a" * 64, "b" * 64
DEPS = [PathState("data", "tree", A, 10, 2), PathState("code.py", "file", B, 3, 1)]
PARAMS = {"params.yaml": {"lr": 0.1, "layers": [1, 2]}, "c.json": {"seed": 1}}


def test_key_is_a_blake3_hex_digest_and_deterministic():
    k = key(["train"], DEPS, PARAMS)
    assert len(k) == 64 and int(k, 16) >= 0
    assert key(["train"], DEPS, PARAMS) == k


def test_key_ignores_order_size_and_kind_details():
    k = key(["train"], DEPS, PARAMS)
    assert key(["train"], list(reversed(DEPS)), PARAMS) == k
    assert key(["train"], DEPS, {"c.json": {"seed": 1}, "params.yaml": {"layers": [1, 2], "lr": 0.1}}) == k
    # only the path and content id of a dependency count
    assert key(["train"], [PathState("data", "tree", A, 999, 9), DEPS[1]], PARAMS) == k


def test_key_changes_with_every_input():
    k = key(["train"], DEPS, PARAMS)
    assert key(["train --fast"], DEPS, PARAMS) != k
    assert key(["train", "eval"], DEPS, PARAMS) != k
    assert key(["train"], DEPS[:1], PARAMS) != k
    assert key(["train"], [PathState("data", "tree", B, 10, 2), DEPS[1]], PARAMS) != k
    assert key(["train"], [PathState("data2", "tree", A, 10, 2), DEPS[1]], PARAMS) != k
    assert key(["train"], DEPS, {**PARAMS, "c.json": {"seed": 2}}) != k
    assert key(["train"], DEPS, {"params.yaml": PARAMS["params.yaml"], "other.json": {"seed": 1}}) != k
    assert key(["train"], DEPS, {**PARAMS, "c.json": {"seed": "1"}}) != k


@given(st.dictionaries(st.text(min_size=1), st.one_of(st.integers(), st.text(), st.booleans(), st.none())))
def test_key_is_independent_of_param_insertion_order(values):
    forward = key(["x"], [], {"p.yaml": values})
    backward = key(["x"], [], {"p.yaml": dict(reversed(list(values.items())))})
    assert forward == backward


def test_put_get_and_keys(tmp_path):
    cache = RunCache(tmp_path)
    outs = [PathState("model.bin", "file", A, 5, 1), PathState("out", "tree", B, 7, 3)]
    k1, k2 = key(["a"], [], {}), key(["b"], [], {})
    assert cache.get(k1) is None and cache.list_keys() == []
    cache.put(k1, outs)
    cache.put(k2, outs[:1])
    assert cache.get(k1) == outs and cache.get(k2) == outs[:1]
    assert cache.list_keys() == sorted([k1, k2])
    path = tmp_path / "runs" / k1[:2] / f"{k1[2:]}.json"
    assert json.loads(path.read_text()) == {"outs": [o.to_dict() for o in outs], "version": 1}
    assert not [p for p in (tmp_path / "runs").rglob(".*")]  # no temp files left


def test_unreadable_entries_are_misses(tmp_path):
    cache = RunCache(tmp_path)
    k = key(["a"], [], {})
    for data in [b"not json", b'{"version": 2, "outs": []}', b'{"version": 1}', b'{"version": 1, "outs": [{}]}']:
        cache.put_raw(k, data)
        assert cache.get(k) is None
