"""Lock entries read without YAML (lineage/index.py fast_entry) give what the YAML parser gives,
and anything outside the layout cairn writes is left to the parser."""

from __future__ import annotations

import pytest

from cairn.lineage.index import PathRef, fast_entry
from cairn.lineage.view import text_parts
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.lock import PathState, StageLock

OID = "cd" * 32
PATHS = ["data/raw", "a b/c d.txt", "ünïcode/fïle", "yes", "123", "x:y", "-dash", "a'b", 'q"uote', "#hash", "[b]"]


@pytest.mark.parametrize("path", PATHS)
def test_fast_entry_reads_what_the_parser_reads(path):
    stage = StageLock(
        cmd=["python run.py"],
        deps=[PathState(path, "file", OID, 3, 1), PathState("code.py", "file", OID, 10, 1)],
        params={"params.yaml": {"lr": 0.1}},
        outs=[PathState(path + "-out", "tree", OID, 100, 4)],
        env=OID,
    )
    text = lock_mod.dump({"s": stage}, ["s"])
    parsed = lock_mod.parse(text, "cairn.lock")["s"]
    fast = fast_entry(text_parts(text)[0]["s"])
    if fast is None:  # quoted by the dumper: the parser's turn
        return
    assert fast.deps == [PathRef(d.path, d.oid, d.kind) for d in parsed.deps]
    assert fast.outs == [PathRef(o.path, o.oid, o.kind, o.size) for o in parsed.outs]


def test_plain_paths_are_read_without_the_parser():
    stage = StageLock(
        cmd=["x"], deps=[PathState("data/raw", "tree", OID, 5, 2)], outs=[PathState("m", "file", OID, 1, 1)]
    )
    fast = fast_entry(text_parts(lock_mod.dump({"s": stage}, ["s"]))[0]["s"])
    assert fast is not None and fast.deps == [PathRef("data/raw", OID, "tree")]
    assert fast.outs == [PathRef("m", OID, "file", 1)]


@pytest.mark.parametrize(
    "entry",
    [
        "  s:\n    cmd: x\n    deps: []\n",  # flow style
        "  s:\n    cmd: x\n    deps:\n    - path: a\n      kind: file\n      oid: "
        + OID
        + "\n      size: 1\n      extra: 2\n",
        "  s:\n    cmd: x\n    outs:\n    - {path: a, kind: file}\n",
    ],
)
def test_other_layouts_go_to_the_parser(entry):
    assert fast_entry(entry) is None
