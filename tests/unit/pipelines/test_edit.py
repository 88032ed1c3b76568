"""`cairn stage add`'s editing of cairn.yaml."""

from __future__ import annotations

import pytest
import yaml

from cairn.errors import PipelineError
from cairn.pipelines.edit import add_stage, stage_body, with_stage


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


def test_add_when_stages_is_not_last_and_replace(tmp_path):
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


COMMENTED = """\
# the project's pipeline
version: 1

stages:
  # turns raw data into features
  prepare:
    cmd: python prepare.py   # quick
    deps:
      - prepare.py
    outs: [data/features.txt]

  train:
    cmd: |
      python train.py
    params: ['train.lr']  # quoted, on purpose
    # outs are declared below the params

vars:   # values for ${...}
  - {x: 1}
"""


def test_adding_keeps_every_comment_and_line_when_stages_is_not_last():
    text = with_stage(COMMENTED, "eval", {"cmd": "python eval.py", "deps": ["model.pkl"]}, False)
    head, tail = COMMENTED.split("\nvars:", 1)
    # after the last stage (and the comment indented under it), a blank line as between the others
    assert text == head + "\n  eval:\n    cmd: python eval.py\n    deps:\n    - model.pkl\n\nvars:" + tail


def test_replacing_changes_only_the_lines_of_that_stage():
    text = with_stage(COMMENTED, "prepare", {"cmd": "python prep2.py"}, True)
    old = (
        "  prepare:\n    cmd: python prepare.py   # quick\n    deps:\n      - prepare.py\n"
        "    outs: [data/features.txt]\n"
    )
    assert old in COMMENTED
    assert text == COMMENTED.replace(old, "  prepare:\n    cmd: python prep2.py\n")
    text = with_stage(COMMENTED, "train", {"cmd": "python train2.py"}, True)
    old = (
        "  train:\n    cmd: |\n      python train.py\n    params: ['train.lr']  # quoted, on purpose\n"
        "    # outs are declared below the params\n"
    )
    assert text == COMMENTED.replace(old, "  train:\n    cmd: python train2.py\n")


def test_the_indentation_of_the_file_is_followed():
    original = "stages:\n    a:\n        cmd: echo a\n    b:\n        cmd: echo b\n"
    text = with_stage(original, "c", {"cmd": "echo c", "outs": ["c.txt"]}, False)
    assert text == original + "    c:\n      cmd: echo c\n      outs:\n      - c.txt\n"
    assert yaml.safe_load(text)["stages"]["c"] == {"cmd": "echo c", "outs": ["c.txt"]}
    original = "stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: echo ${item}\n      outs:\n      - o${item}\n"
    original += "# the end\n"
    expected = original.replace("# the end", "  b:\n    cmd: x\n# the end")
    assert with_stage(original, "b", {"cmd": "x"}, False) == expected


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("", "stages:\n  s:\n    cmd: x\n"),
        ("# nothing yet\n", "# nothing yet\nstages:\n  s:\n    cmd: x\n"),
        ("vars:\n  - {a: 1}  # c", "vars:\n  - {a: 1}  # c\nstages:\n  s:\n    cmd: x\n"),
        ("stages:   # none yet\nvars: []\n", "stages:   # none yet\n  s:\n    cmd: x\nvars: []\n"),
        ("stages: ~  # none\n", "stages:  # none\n  s:\n    cmd: x\n"),
        ("stages:", "stages:\n  s:\n    cmd: x\n"),
        # a flow mapping becomes a block (comments around it stay)
        (
            "# p\nstages: {a: {cmd: y}}  # c\nvars: []\n",
            "# p\nstages:  # c\n  a:\n    cmd: y\n  s:\n    cmd: x\nvars: []\n",
        ),
        ("{stages: {a: {cmd: y}}}", "stages:\n  a:\n    cmd: y\n  s:\n    cmd: x\n"),
        ("stages:\n  a:\n    cmd: y", "stages:\n  a:\n    cmd: y\n  s:\n    cmd: x\n"),
    ],
)
def test_files_of_every_shape(original, expected):
    assert with_stage(original, "s", {"cmd": "x"}, False) == expected


def test_non_ascii_text_before_the_stage(tmp_path):
    original = '# café ☕\nstages:\n  a: {cmd: "echo é"}  # ok\n'
    (tmp_path / "cairn.yaml").write_text(original)
    add_stage(tmp_path, "b", {"cmd": "echo ü"}, False, set())
    assert (tmp_path / "cairn.yaml").read_text() == original + "  b:\n    cmd: echo ü\n"
    add_stage(tmp_path, "a", {"cmd": "echo à"}, True, set())
    assert (tmp_path / "cairn.yaml").read_text() == "# café ☕\nstages:\n  a:\n    cmd: echo à\n  b:\n    cmd: echo ü\n"
