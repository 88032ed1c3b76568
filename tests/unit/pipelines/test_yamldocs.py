"""pipelines/yamldocs: parsed YAML kept by the hash of its text, in the project's state folder;
cairn.lock recorded as written, equal to what PyYAML reads back from it."""

from __future__ import annotations

import datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.pipelines import lock, yamldocs
from cairn.pipelines.lock import PathState, StageLock


@pytest.fixture
def project(tmp_path):
    (tmp_path / ".cairn").mkdir()
    yamldocs._stores.clear()  # every test starts as a new process would
    yield tmp_path
    yamldocs._stores.clear()


def test_a_document_is_found_by_its_text_and_kind(project):
    path = project / "sub" / "params.yaml"
    yamldocs.put(path, "a: 1\n", "params", {"a": [1, 2]})
    yamldocs._stores.clear()  # kept on disk, for the next command
    got = yamldocs.get(path, "a: 1\n", "params")
    assert got == {"a": [1, 2]}
    got["a"].append(3)  # each caller gets its own copy
    assert yamldocs.get(project / "other.yaml", "a: 1\n", "params") == {"a": [1, 2]}
    assert yamldocs.get(path, "a: 2\n", "params") is yamldocs.MISS
    assert yamldocs.get(path, "a: 1\n", "lock") is yamldocs.MISS


def test_outside_a_project_nothing_is_kept(tmp_path):
    yamldocs.put(tmp_path / "params.yaml", "a: 1\n", "params", {"a": 1})
    assert yamldocs.get(tmp_path / "params.yaml", "a: 1\n", "params") is yamldocs.MISS
    assert not list(tmp_path.rglob("*"))  # no state folder made


def test_a_damaged_store_is_a_miss_and_is_replaced(project):
    (project / ".cairn" / "state").mkdir()
    (project / ".cairn" / "state" / "yaml-docs").write_bytes(b"\x00not marshal")
    assert yamldocs.get(project / "p.yaml", "a: 1\n", "params") is yamldocs.MISS
    yamldocs.put(project / "p.yaml", "a: 1\n", "params", {"a": 1})
    yamldocs._stores.clear()
    assert yamldocs.get(project / "p.yaml", "a: 1\n", "params") == {"a": 1}


def test_values_marshal_cannot_hold_are_not_kept(project):
    yamldocs.put(project / "p.yaml", "d: 2026-11-24\n", "params", {"d": datetime.date(2026, 11, 24)})
    assert yamldocs.get(project / "p.yaml", "d: 2026-11-24\n", "params") is yamldocs.MISS


def test_only_the_newest_documents_are_kept(project):
    for i in range(yamldocs._KEEP + 5):
        yamldocs.put(project / "p.yaml", f"a: {i}\n", "params", {"a": i})
    yamldocs._stores.clear()
    assert yamldocs.get(project / "p.yaml", "a: 0\n", "params") is yamldocs.MISS
    last = yamldocs._KEEP + 4
    assert yamldocs.get(project / "p.yaml", f"a: {last}\n", "params") == {"a": last}


# Param values as YAML, JSON and TOML files give them, including strings YAML would read as
# something else if written bare.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["yes", "No", "null", "~", "1e3", "0x10", "0o17", "1_000", ".inf", "2026-11-24", "", " x"])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=4), cmd=st.text(min_size=1, max_size=20)
)
def test_the_lock_recorded_as_written_is_what_yaml_reads_back(tmp_path_factory, params, cmd):
    root = tmp_path_factory.mktemp("p")
    (root / ".cairn").mkdir()
    yamldocs._stores.clear()
    stages = {"train": StageLock([cmd], deps=[PathState("d", "file", "a" * 64, 1, 1)], params={"params.yaml": params})}
    lock.write(root, stages, ["train"])
    text = (root / "cairn.lock").read_text()
    recorded = yamldocs.get(root / "cairn.lock", text, "lock")
    assert recorded is not yamldocs.MISS
    assert _same(recorded, yaml.safe_load(text))
    assert lock.read(root) == lock.parse(text, "cairn.lock")


def _same(a, b) -> bool:
    """Equal, telling True from 1 and 1.0 from 1 (YAML would not mix them up either)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
