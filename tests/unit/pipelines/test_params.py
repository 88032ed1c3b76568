"""Params files: yaml, json and toml; dotted keys; errors with positions."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.pipelines import params


def test_read_each_format(tmp_path):
    (tmp_path / "p.yaml").write_text("a:\n  b: 1\nc: [1, 2]\n")
    (tmp_path / "p.json").write_text('{"a": {"b": 1}, "c": [1, 2]}')
    (tmp_path / "p.toml").write_text("c = [1, 2]\n[a]\nb = 1\n")
    (tmp_path / "p.yml").write_text("a: {b: 1}\nc: [1, 2]\n")
    for name in ["p.yaml", "p.json", "p.toml", "p.yml"]:
        assert params.read(tmp_path / name, name) == {"a": {"b": 1}, "c": [1, 2]}
    (tmp_path / "empty.yaml").write_text("")
    assert params.read(tmp_path / "empty.yaml") == {}


def test_flatten_and_lookup():
    doc = {"train": {"lr": 0.1, "opt": {"name": "adam"}, "empty": {}}, "layers": [8, 16], "x": None}
    assert params.flatten(doc) == {
        "train.lr": 0.1,
        "train.opt.name": "adam",
        "train.empty": {},
        "layers": [8, 16],
        "x": None,
    }
    assert params.lookup(doc, "train.opt.name") == "adam"
    assert params.lookup(doc, "train.opt") == {"name": "adam"}
    assert params.lookup(doc, "layers.1") == 16
    assert params.lookup(doc, "x") is None
    for missing in ["nope", "train.nope", "layers.2", "layers.x", "train.lr.deeper"]:
        with pytest.raises(KeyError):
            params.lookup(doc, missing)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.yaml", "a: [1\n", "p.yaml:2:1: invalid YAML"),
        ("p.json", '{"a": 1,}', "p.json:1:9: invalid JSON: Expecting property name enclosed in double quotes"),
        ("p.toml", "a = \n", "p.toml: invalid TOML: "),
        ("p.yaml", "- 1\n- 2\n", "p.yaml must hold a mapping of names to values"),
        ("p.json", "[1]", "p.json must hold a mapping of names to values"),
    ],
)
def test_errors(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(PipelineError) as e:
        params.read(tmp_path / name, name)
    assert e.value.message.startswith(message), e.value.message


def test_a_missing_file(tmp_path):
    with pytest.raises(PipelineError) as e:
        params.read(tmp_path / "conf" / "p.yaml", "conf/p.yaml")
    assert e.value.message == "params file conf/p.yaml does not exist"
    assert e.value.hint == "create conf/p.yaml, or fix the stage's params"
