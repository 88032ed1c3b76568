"""cairn.lock: round trip, stable key and stage order, atomic writes, damaged files refused."""

from __future__ import annotations

import os

import pytest
import yaml

from cairn.errors import PipelineError
from cairn.pipelines import lock
from cairn.pipelines.lock import PathState, StageLock

A = "a" * 64
B = "b" * 64
C = "c" * 64


def _entry(cmd=("train",), lr=0.1) -> StageLock:
    return StageLock(
        list(cmd),
        deps=[PathState("data", "tree", A, 300, 3)],
        params={"params.yaml": {"train.lr": lr, "a.z": [1, 2]}, "conf.json": {"seed": 1}},
        outs=[PathState("model.bin", "file", B, 12, 1)],
        env=C,
    )


def test_round_trip(tmp_path):
    stages = {"train": _entry(), "multi": _entry(["a", "b"]), "bare": StageLock(["echo"])}
    lock.write(tmp_path, stages, ["train", "multi", "bare"])
    assert lock.read(tmp_path) == stages


def test_file_layout_and_key_order(tmp_path):
    lock.write(tmp_path, {"train": _entry()}, ["train"])
    assert (tmp_path / "cairn.lock").read_text() == (
        "version: 2\n"
        "stages:\n"
        "  train:\n"
        "    cmd: train\n"
        "    deps:\n"
        "    - path: data\n"
        "      kind: tree\n"
        f"      oid: {A}\n"
        "      size: 300\n"
        "      files: 3\n"
        "    params:\n"
        "      conf.json:\n"
        "        seed: 1\n"
        "      params.yaml:\n"
        "        a.z:\n"
        "        - 1\n"
        "        - 2\n"
        "        train.lr: 0.1\n"
        "    outs:\n"
        "    - path: model.bin\n"
        "      kind: file\n"
        f"      oid: {B}\n"
        "      size: 12\n"
        "      files: 1\n"
        f"    env: {C}\n"
    )


def test_stages_follow_the_pipeline_order_then_names(tmp_path):
    stages = {n: StageLock([n]) for n in ["zeta", "old2", "alpha", "old1"]}
    lock.write(tmp_path, stages, ["zeta", "alpha", "unrun"])
    assert list(yaml.safe_load((tmp_path / "cairn.lock").read_text())["stages"]) == ["zeta", "alpha", "old1", "old2"]


def test_the_same_content_writes_the_same_bytes(tmp_path):
    first = {"b": _entry(), "a": _entry(lr=0.2)}
    second = {"a": _entry(lr=0.2), "b": _entry()}
    second["b"].params = dict(reversed(list(second["b"].params.items())))
    lock.write(tmp_path, first, ["b", "a"])
    one = (tmp_path / "cairn.lock").read_bytes()
    lock.write(tmp_path, second, ["b", "a"])
    assert (tmp_path / "cairn.lock").read_bytes() == one


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    lock.write(tmp_path, {"s": _entry()}, ["s"])
    before = (tmp_path / "cairn.lock").read_text()

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        lock.write(tmp_path, {"s": _entry(lr=9)}, ["s"])
    assert (tmp_path / "cairn.lock").read_text() == before  # readers never see half a file


def test_no_lock_file_is_an_empty_lock(tmp_path):
    assert lock.read(tmp_path) == {}
    assert lock.parse("", "cairn.lock") == {}


def test_a_version_1_lock_reads_and_the_next_write_upgrades_it(tmp_path):
    """Locks written before environment records (version 1) read as entries without one."""
    old = (
        f"version: 1\nstages:\n  train:\n    cmd: train\n    outs:\n    - {{path: m, kind: file, oid: {B}, size: 1}}\n"
    )
    (tmp_path / "cairn.lock").write_text(old)
    stages = lock.read(tmp_path)
    assert stages["train"].env is None and stages["train"].roots() == [("file", B)]
    stages["train"].env = C
    lock.write(tmp_path, stages, ["train"])
    text = (tmp_path / "cairn.lock").read_text()
    assert text.startswith("version: 2\n") and f"env: {C}" in text
    assert lock.read(tmp_path)["train"].roots() == [("file", B), ("file", C)]


def test_lookups():
    entry = _entry()
    assert entry.dep("data") == PathState("data", "tree", A, 300, 3) and entry.dep("nope") is None
    assert entry.out("model.bin").oid == B and entry.out("data") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: {}\n", "cairn.lock has format version None; this cairn reads 1 to 2"),
        ("version: 3\n", "cairn.lock has format version 3; this cairn reads 1 to 2"),
        ("version: '1'\n", "cairn.lock has format version '1'; this cairn reads 1 to 2"),
        ("version: true\n", "cairn.lock has format version True; this cairn reads 1 to 2"),
        ("- 1\n", "cairn.lock is not a mapping"),
        ("version: 1\nstages: {s: {deps: []}}\n", "cairn.lock is damaged ('cmd')"),
        ("version: 1\nstages: {s: {cmd: x, outs: [{path: o, kind: file, oid: zz, size: 1}]}}\n", "invalid oid for o"),
        ("version: 1\nstages: {s: {cmd: x, outs: [{path: o}]}}\n", "cairn.lock is damaged ('oid')"),
        (f"version: 1\nstages: {{s: {{cmd: x, outs: [{{path: o, kind: f, oid: {A}, size: big}}]}}}}\n", "damaged"),
        ("version: 1\nstages: [a]\n", "cairn.lock is damaged"),
        ("version: 2\nstages: {s: {cmd: x, env: nope}}\n", "invalid environment record id for stage 's'"),
        ("version: 1\n  bad: [\n", "cairn.lock:2:6 is not valid YAML"),
    ],
)
def test_damaged_locks_are_refused(text, message):
    with pytest.raises(PipelineError) as e:
        lock.parse(text, "cairn.lock")
    assert message in e.value.message
    assert e.value.hint in (
        "upgrade cairn",
        "restore it from git (`git checkout -- cairn.lock`) or delete it to rerun every stage",
    )
