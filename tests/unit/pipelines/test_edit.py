"""`cairn stage add`'s editing of cairn.yaml."""

from __future__ import annotations

import pytest
import yaml

from cairn.errors import PipelineError
from cairn.pipelines.edit import add_stage, stage_body


def test_stage_body_keeps_a_readable_key_order():
    body = stage_body("run", ["d"], ["o"], ["n"], ["lr", {"c.json": ["k"]}], ["m.json"], ["p.csv"], "sub", "why")
    assert list(body) == ["cmd", "wdir", "desc", "deps", "params", "outs", "metrics", "plots"]
    assert body["outs"] == ["o", {"n": {"cache": False}}]
    assert body["metrics"] == [{"m.json": {"cache": False}}] and body["plots"] == [{"p.csv": {"cache": False}}]
    assert stage_body("run", [], [], [], [], [], [], ".", None) == {"cmd": "run"}


def test_append_keeps_the_file_as_written(tmp_path):
    original = "# my pipeline\nstages:\n  a:   # the first\n    cmd: echo a\n"
    (tmp_path / "cairn.yaml").write_text(original)
    add_stage(tmp_path, "b", {"cmd": "echo b", "outs": ["b.txt"]}, False, set())
    text = (tmp_path / "cairn.yaml").read_text()
    assert text == original + "  b:\n    cmd: echo b\n    outs:\n    - b.txt\n"


def test_a_file_without_final_newline(tmp_path):
    (tmp_path / "cairn.yaml").write_text("stages:\n  a:\n    cmd: echo a")
    add_stage(tmp_path, "b", {"cmd": "echo b"}, False, set())
    assert yaml.safe_load((tmp_path / "cairn.yaml").read_text()) == {
        "stages": {"a": {"cmd": "echo a"}, "b": {"cmd": "echo b"}}
    }


def test_rewrite_when_stages_is_not_last_or_when_replacing(tmp_path):
    (tmp_path / "cairn.yaml").write_text("stages:\n  a:\n    cmd: echo a\nvars:\n  - {x: 1}\n")
    add_stage(tmp_path, "b", {"cmd": "echo ${x}"}, False, set())
    doc = yaml.safe_load((tmp_path / "cairn.yaml").read_text())
    assert doc == {"stages": {"a": {"cmd": "echo a"}, "b": {"cmd": "echo ${x}"}}, "vars": [{"x": 1}]}
    add_stage(tmp_path, "a", {"cmd": "echo A"}, True, set())
    doc = yaml.safe_load((tmp_path / "cairn.yaml").read_text())
    assert list(doc["stages"]) == ["a", "b"] and doc["stages"]["a"] == {"cmd": "echo A"}


def test_refusals_leave_the_file_alone(tmp_path):
    original = "stages:\n  a:\n    cmd: echo a\n    outs: [a.txt]\n"
    (tmp_path / "cairn.yaml").write_text(original)
    with pytest.raises(PipelineError, match=r"stage 'a' already exists in cairn\.yaml"):
        add_stage(tmp_path, "a", {"cmd": "x"}, False, set())
    with pytest.raises(PipelineError, match=r"stages 'a' and 'b' both write a\.txt"):
        add_stage(tmp_path, "b", {"cmd": "x", "outs": ["a.txt"]}, False, set())
    with pytest.raises(PipelineError, match="overlaps data, which is tracked with `cairn add`"):
        add_stage(tmp_path, "c", {"cmd": "x", "outs": ["data/x"]}, False, {"data"})
    assert (tmp_path / "cairn.yaml").read_text() == original
    add_stage(tmp_path, "d", {"cmd": "x", "deps": ["a.txt"], "outs": ["d.txt"]}, False, set())
    valid = (tmp_path / "cairn.yaml").read_text()
    with pytest.raises(PipelineError, match="the stages form a cycle"):
        add_stage(tmp_path, "a", {"cmd": "x", "deps": ["d.txt"], "outs": ["a.txt"]}, True, set())
    assert (tmp_path / "cairn.yaml").read_text() == valid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cairn.yaml"]  # no temp file left
