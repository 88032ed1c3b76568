"""plots(): declared and ad-hoc plots over revisions, field checks, images, and the written page."""

from __future__ import annotations

import json
import re

import pytest

from cairn.errors import PathError
from cairn.metrics import render, vega
from cairn.metrics.plots import diff_revisions, plots
from cairn.metrics.revisions import select

PIPE = """
plots:
  - cm.csv: {template: confusion}
  - shots
stages:
  train:
    cmd: x
    plots:
      - loss.csv: {x: epoch, y: loss, title: Loss, y_label: train loss}
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


@pytest.fixture
def two(hist) -> None:
    hist.write("cairn.yaml", PIPE)
    hist.write("cm.csv", "actual,predicted\na,a\na,b\n")
    hist.write("shots/one.png", PNG)
    hist.write("shots/notes.txt", "not a plot")
    hist.write("loss.csv", "epoch,loss\n0,1.0\n1,0.5\n")
    hist.commit("one", tag="v1")
    hist.write("loss.csv", "epoch,loss\n0,0.9\n1,0.4\n2,0.3\n")
    hist.commit("two", tag="v2")


def test_declared_plots_overlay_revisions(repo, two) -> None:
    result = plots(repo, select(repo, ["v1", "v2"]))
    assert [c.id for c in result.charts] == ["cm.csv", "loss.csv"]
    loss = result.charts[1]
    assert loss.title == "Loss" and loss.template == "line" and loss.revisions == ["v1", "v2"]
    assert loss.spec["encoding"]["y"]["title"] == "train loss"
    values = loss.spec["data"]["values"]
    got = [(v[vega.REV], v["epoch"], v["loss"]) for v in values][:3]
    assert got == [("v1", 0, 1.0), ("v1", 1, 0.5), ("v2", 0, 0.9)]
    assert [s.id for s in result.images] == ["shots/one.png"]
    assert [i.rev for i in result.images[0].images] == ["v1", "v2"]
    assert not result.problems and not result.notes


def test_plots_diff_defaults(repo, two) -> None:
    assert [r.name for r in diff_revisions(repo, [])] == ["HEAD", "workspace"]
    assert [r.name for r in diff_revisions(repo, ["v1"])] == ["v1", "workspace"]
    assert [r.name for r in diff_revisions(repo, ["v1", "v2"])] == ["v1", "v2"]


def test_a_field_the_data_lacks_names_the_columns(repo, two, hist) -> None:
    hist.write("cairn.yaml", PIPE.replace("y: loss", "y: acc"))
    result = plots(repo, select(repo, ["workspace"]), ["loss.csv"])
    assert result.charts == []
    (p,) = result.problems
    assert p.error.message == (
        "plot loss.csv: field 'acc' is not in the data (in the workspace); its columns: epoch, loss"
    )
    assert "set x and y" in (p.error.hint or "")


def test_a_field_missing_at_one_revision_leaves_that_revision_out(repo, two, hist) -> None:
    hist.write("loss.csv", "epoch,loss,acc\n0,1,0.5\n")
    hist.write("cairn.yaml", PIPE.replace("y: loss", "y: acc"))
    result = plots(repo, select(repo, ["v2", "workspace"]), ["loss.csv"])
    assert result.charts[0].revisions == ["workspace"]
    assert result.notes == [
        "plot loss.csv: field 'acc' is not in the data (at v2, commit "
        + result.revisions[0].short
        + "); its columns: epoch, loss (that revision is left out of the chart)"
    ]


def test_files_not_declared_plot_with_defaults(repo, two, hist) -> None:
    hist.write("extra/scores.json", json.dumps([{"step": 0, "f1": 0.1}, {"step": 1, "f1": 0.2}]))
    result = plots(repo, None, ["extra/scores.json"])
    (chart,) = result.charts
    assert chart.spec["encoding"]["x"]["field"] == "step" and chart.spec["encoding"]["y"]["field"] == "f1"
    with pytest.raises(PathError) as e:
        plots(repo, None, ["nope.csv"])
    assert e.value.message == "nope.csv does not exist in any of the revisions shown"


def test_no_step_column_numbers_the_rows(repo, hist) -> None:
    hist.write("cairn.yaml", "plots: [l.csv]\n")
    hist.write("l.csv", "loss\n3\n2\n")
    (chart,) = plots(repo).charts
    assert [(v["step"], v["loss"]) for v in chart.spec["data"]["values"]] == [(0, 3), (1, 2)]


def test_write_page_and_real_pngs(repo, two, tmp_path) -> None:
    result = plots(repo, select(repo, ["v1", "v2"]))
    written = render.write_plots(result, tmp_path / "out", with_png=True)
    assert written.page == tmp_path / "out" / "index.html"
    text = written.page.read_text()
    specs = [json.loads(m) for m in re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', text)]
    assert [s["title"] for s in specs] == ["cm.csv", "Loss"]
    assert [p.name for p in written.pngs] == ["cm.csv.png", "loss.csv.png"]
    for p in written.pngs:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
