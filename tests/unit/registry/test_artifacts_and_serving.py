"""The `artifacts:` section (problems with file:line:col) and the serving checks that need no
server: request records against a signature, the missing web extra."""

from __future__ import annotations

import sys

import pytest

from cairn.errors import MissingDependencyError, PipelineError
from cairn.pipelines.yamlfile import parse
from cairn.registry import artifacts, serving

GOOD = """\
artifacts:
  churn:
    path: models/churn.pkl
    type: model
    labels: [a]
    serve: pkg.serve:predict
    signature:
      inputs: [{name: x, type: float}, {name: y, type: str}]
      outputs: {p: int}
    example: [{x: 1.0, y: "a"}]
"""


def test_artifacts_parse():
    art = artifacts.parse(parse(GOOD, "cairn.yaml"))["churn"]
    assert (art.path, art.type, art.labels, art.serve) == ("models/churn.pkl", "model", ["a"], "pkg.serve:predict")
    assert art.signature() == {"inputs": {"x": "float", "y": "str"}, "outputs": {"p": "int"}}
    assert art.example == [{"x": 1.0, "y": "a"}]


def test_artifact_problems_say_where():
    text = """\
artifacts:
  churn:
    path: ../outside.pkl
    serve: not a function
    labels: x
    signature: {inputs: {a: complex}}
    colour: red
  "bad name":
    path: x
  other: 3
"""
    with pytest.raises(PipelineError) as e:
        artifacts.parse(parse(text, "cairn.yaml"))
    assert e.value.problems == [
        "cairn.yaml:7:5: unknown key 'colour' (known: desc, example, labels, meta, path, serve, signature, type)",
        "cairn.yaml:3:5: path '../outside.pkl' leaves the repository; give a path inside it",
        "cairn.yaml:8:3: 'bad name' is not a valid artifact name (use letters, digits, '-', '_' and '/', "
        "starting and ending with a letter or a digit)",
        "cairn.yaml:10:3: artifact 'other' must be a mapping with at least `path:`",
    ]
    text = text.replace("../outside.pkl", "m.pkl")
    with pytest.raises(PipelineError) as e:
        artifacts.parse(parse(text, "cairn.yaml"))
    assert "cairn.yaml:4:5: `serve` must be module:function (e.g. serve_model:predict), not 'not a function'" in (
        e.value.problems
    )
    assert "cairn.yaml:5:5: `labels` must be a list of strings" in e.value.problems
    assert "cairn.yaml:6:26: column 'a' has type 'complex'; types are int, float, str, bool" in e.value.problems


def test_records_against_signature():
    sig = {"inputs": {"n": "int", "f": "float", "s": "str", "b": "bool"}}
    ok = [{"n": 1, "f": 2, "s": "x", "b": True}]
    assert serving.records_of(ok, sig) == ok
    assert serving.records_of({"inputs": ok}, None) == ok
    for rec, reason in (
        ({"n": True, "f": 1.0, "s": "x", "b": True}, "column 'n' must be int, got true"),
        ({"n": 1, "f": "1", "s": "x", "b": True}, "column 'f' must be float"),
        ({"n": 1, "f": 1.0, "s": 2, "b": True}, "column 's' must be str"),
        ({"n": 1, "f": 1.0, "s": "x", "b": 1}, "column 'b' must be bool"),
    ):
        with pytest.raises(serving.BadRequest, match=reason):
            serving.records_of([rec], sig)


def test_missing_web_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    with pytest.raises(MissingDependencyError, match="serving needs starlette and uvicorn") as e:
        serving.build_app(None)  # type: ignore[arg-type]
    assert e.value.hint == "install them: pip install 'cairn[web]'"
