"""A lock parsed stage by stage (lineage/view.py) reads exactly as the whole file does, and any
layout the split does not know is parsed whole."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.lineage.view import Shared, split_stages
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.lock import PathState, StageLock

OID = "ab" * 32


def _lock_text(n: int, lr: float = 0.1) -> str:
    stages = {
        f"s{i}": StageLock(
            cmd=[f"python s{i}.py"] if i % 2 else ["a", "b c"],
            deps=[PathState(f"in{i}", "file", OID, 3, 1)],
            params={"params.yaml": {f"s{i}.lr": lr, "s.name": "x: y"}},
            outs=[PathState(f"out {i}", "tree", OID, 10, 2)],
        )
        for i in range(n)
    }
    return lock_mod.dump(stages, list(stages))


def _by_stage(text: str) -> dict:
    return {n: e.to_dict() for n, e in Shared(None, None).parse_lock(text, "cairn.lock").items()}


def _whole(text: str) -> dict:
    return {n: e.to_dict() for n, e in lock_mod.parse(text, "cairn.lock").items()}


def test_what_cairn_writes_splits_into_one_entry_per_stage():
    text = _lock_text(3)
    header, blocks = split_stages(text)
    assert header.endswith("stages:\n") and len(blocks) == 3
    assert blocks[1].startswith("  s1:\n")
    assert _by_stage(text) == _whole(text)


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nstages: {}\n",  # flow style
        "version: 1\nstages:\n  s0:\n    cmd: a\n\n  s1:\n    cmd: b\n",  # a blank line
        "version: 1\nstages:\n  # a comment\n  s0:\n    cmd: a\n",
        "stages:\n  s0:\n    cmd: a\nversion: 1\n",  # a key after the stages
        "version: 1\nstages:\n  s0: {cmd: a,\n  deps: []}\n",  # flow entry over two lines
    ],
)
def test_other_layouts_read_as_the_whole_file(text):
    assert _by_stage(text) == _whole(text)


def test_shared_entries_are_parsed_once_and_errors_name_the_file():
    shared = Shared(None, None)
    shared.parse_lock(_lock_text(4), "cairn.lock")
    entries = sum(1 for kind, _ in shared._memo if kind == "stage-entry")
    shared.parse_lock(_lock_text(4).replace("s3.lr: 0.1", "s3.lr: 0.2"), "cairn.lock")
    assert sum(1 for kind, _ in shared._memo if kind == "stage-entry") == entries + 1
    broken = "version: 1\nstages:\n  s0:\n    deps: []\n"
    with pytest.raises(PipelineError, match=r"cairn.lock is damaged \('cmd'\)"):
        shared.parse_lock(broken, "cairn.lock")


def test_text_parts_give_each_entry_and_the_outs_lists():
    from cairn.lineage.view import text_parts

    entries, outs = text_parts(_lock_text(2))
    assert list(entries) == ["s0", "s1"] and entries["s1"].startswith("  s1:\n    cmd: python s1.py\n")
    assert "out 0" in outs and "out 1" in outs and "in0" not in outs  # deps are not outs
    assert text_parts("version: 1\nstages:\n  'odd name':\n    cmd: a\n") is None  # quoted: parse instead
    assert text_parts("version: 1\nstages: {}\n") is None
