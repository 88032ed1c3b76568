"""params diff, metrics show / diff / trend and how problems are reported."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.metrics.revisions import resolve, select
from cairn.metrics.values import MISSING, metrics_diff, metrics_show, metrics_trend, params_diff

PIPE = """
metrics: [eval.json, other.yaml]
params: [config/extra.toml]
stages:
  train:
    cmd: x
    params:
      - train.lr
      - config/model.yaml: [depth]
"""


@pytest.fixture
def three(hist) -> None:
    """v1 -> v2 -> v3 (HEAD); the workspace changes eval.json and params.yaml."""
    hist.write("cairn.yaml", PIPE)
    hist.write("config/extra.toml", "seed = 1\n")
    hist.write("config/model.yaml", "depth: 3\nwidth: 8\n")
    for i, (f1, note) in enumerate([(0.5, "a"), (0.6, "b"), (0.75, "b")], start=1):
        doc = {"f1": f1, "note": note, "loss": {"train": 1 / i}}
        if i >= 2:
            doc["auc"] = 0.1 * i
        hist.write("eval.json", doc)
        hist.write("other.yaml", f"f1: {i}\n")
        hist.write("params.yaml", f"train:\n  lr: 0.0{i}\n  layers: [1, {i}]\nname: m\n")
        hist.commit(f"c{i}", tag=f"v{i}")
    hist.write("eval.json", {"f1": 0.8, "note": "c", "loss": {"train": 0.2}})
    hist.write("params.yaml", "train:\n  lr: 0.1\n  layers: [1, 3]\nname: m\n")


def test_show_flattens_and_reports_missing_files(repo, three, hist) -> None:
    hist.write("cairn.yaml", PIPE.replace("other.yaml", "absent.json"))
    shown = metrics_show(repo, select(repo, ["v1", "workspace"]))
    assert shown.values["v1"]["eval.json"] == {"f1": 0.5, "note": "a", "loss.train": 1.0}
    assert shown.values["workspace"]["absent.json"] is None
    assert ("eval.json", "auc") not in shown.columns()
    d = shown.to_dict()
    assert d["revisions"][0]["rev"] == "v1" and d["revisions"][0]["commit"]
    assert d["errors"] == []


def test_metrics_diff_changes_missing_and_non_numeric(repo, three) -> None:
    d = metrics_diff(repo)  # HEAD -> workspace
    rows = {(r.path, r.key): r for r in d.rows}
    assert rows[("eval.json", "f1")].change == pytest.approx(0.05)
    assert rows[("eval.json", "f1")].status == "modified"
    assert rows[("eval.json", "note")].change is None and rows[("eval.json", "note")].new == "c"
    assert rows[("eval.json", "auc")].new is MISSING and rows[("eval.json", "auc")].status == "removed"
    assert ("other.yaml", "f1") not in rows  # unchanged
    d_all = metrics_diff(repo, show_all=True)
    assert any(r.status == "unchanged" for r in d_all.rows)
    j = metrics_diff(repo, "v1", "v2").to_dict()
    auc = next(r for r in j["diff"] if r["key"] == "auc")
    assert auc == {"path": "eval.json", "key": "auc", "old": None, "new": 0.2, "status": "added", "change": None}
    f1 = next(r for r in j["diff"] if r["path"] == "eval.json" and r["key"] == "f1")
    assert f1["change"] == 0.1  # no binary-float noise (0.6 - 0.5)


def test_params_diff_reads_every_params_file(repo, three, hist) -> None:
    d = params_diff(repo)
    assert [(r.path, r.key, r.old, r.new) for r in d.rows] == [("params.yaml", "train.lr", 0.03, 0.1)]
    hist.write("config/model.yaml", "depth: 4\nwidth: 8\n")
    hist.write("config/extra.toml", "seed = 2\n")
    changed = {(r.path, r.key) for r in params_diff(repo).rows}
    assert {("config/model.yaml", "depth"), ("config/extra.toml", "seed")} <= changed
    every = {(r.path, r.key): r for r in params_diff(repo, "v1", "v3", show_all=True).rows}
    assert every[("params.yaml", "name")].status == "unchanged"
    layers = every[("params.yaml", "train.layers")]
    assert layers.old == [1, 1] and layers.change is None


def test_params_diff_still_compares_params_yaml_when_cairn_yaml_is_broken(repo, three, hist) -> None:
    hist.write("cairn.yaml", "stages:\n  train:\n    cmd: python -c {'a': 1}\n")  # `: ` breaks YAML
    d = params_diff(repo)
    # the broken cairn.yaml is reported, and params.yaml's change is not hidden behind it
    assert [e["path"] for e in d.to_dict()["errors"]] == ["cairn.yaml"]
    # (the files only the broken cairn.yaml named are not read in the workspace)
    assert ("params.yaml", "train.lr", 0.03, 0.1) in [(r.path, r.key, r.old, r.new) for r in d.rows]


def test_trend_key_file_key_and_missing_points(repo, three) -> None:
    t = metrics_trend(repo, "auc", last=5)
    assert t.path == "eval.json" and [v for _, v in t.points] == [pytest.approx(0.3), pytest.approx(0.2), MISSING]
    assert [r.name for r, _ in t.points] == [resolve(repo, f"v{i}").short for i in (3, 2, 1)]
    assert t.to_dict()["points"][2] == {**t.to_dict()["points"][2], "value": None, "missing": True}
    assert metrics_trend(repo, "other.yaml:f1", last=2).path == "other.yaml"
    with pytest.raises(PipelineError) as e:
        metrics_trend(repo, "f1")
    assert e.value.message == "metric 'f1' is in several files: eval.json, other.yaml"
    assert "cairn metrics trend eval.json:f1" in (e.value.hint or "")
    with pytest.raises(PipelineError) as e:
        metrics_trend(repo, "train")
    assert e.value.message == "no metric 'train' in the last 3 commits"
    assert e.value.hint == "did you mean loss.train?"


def test_a_broken_file_is_one_problem_for_every_revision_holding_it(repo, hist) -> None:
    hist.write("cairn.yaml", "metrics: [m.json]\n")
    hist.write("m.json", '{"a": 1}')
    hist.commit("good", tag="good")
    hist.write("m.json", '{"a": 1,\n "b": }')
    for i in range(3):
        hist.write("x.txt", str(i))
        hist.commit(f"broken {i}", tag=f"b{i}")
    shown = metrics_show(repo, select(repo, ["good", "b0", "b1", "b2"]))
    assert len(shown.problems) == 1
    p = shown.problems[0]
    assert p.rev.name == "b0" and [r.name for r in p.also] == ["b1", "b2"]
    assert p.error.message.startswith("m.json:2:7 (at b0, commit ")
    assert "invalid JSON" in p.error.message
    assert shown.values["good"]["m.json"] == {"a": 1}
    assert shown.to_dict()["errors"][0]["also"] == ["b1", "b2"]
