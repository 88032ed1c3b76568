"""Vega-Lite specs of the four templates, field defaults and escaping."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.metrics import vega

ROWS_A = [{"epoch": 0, "loss": 1.0, "acc": 0.5}, {"epoch": 1, "loss": 0.5, "acc": 0.7}]
ROWS_B = [{"epoch": 0, "loss": 0.9, "acc": 0.6}, {"epoch": 1, "loss": 0.4, "acc": 0.8}]


def test_template_names_and_aliases() -> None:
    assert vega.template_name(None, "p") == "line"
    assert vega.template_name("linear", "p") == "line"
    assert vega.template_name("Confusion_Matrix", "p") == "confusion"
    with pytest.raises(PipelineError) as e:
        vega.template_name("pie", "plots/x.csv")
    assert e.value.message == "plot plots/x.csv: unknown template 'pie'"
    assert "line, scatter, bar, confusion" in (e.value.hint or "")


def test_default_fields() -> None:
    assert vega.choose_fields("line", ["step", "loss", "acc"], {}) == ("step", ["acc"], False)
    assert vega.choose_fields("line", ["loss"], {}) == ("step", ["loss"], True)
    assert vega.choose_fields("line", ["a", "b"], {"x": "a", "y": ["b", "c"]}) == ("a", ["b", "c"], False)
    assert vega.choose_fields("confusion", ["actual", "predicted"], {}) == ("actual", ["predicted"], False)
    assert vega.choose_fields("confusion", ["y_true", "y_pred"], {}) == ("y_true", ["y_pred"], False)


def test_line_of_two_revisions_overlays_with_a_legend() -> None:
    spec = vega.chart("line", [("v1", ROWS_A), ("v2", ROWS_B)], "epoch", ["loss"], "Loss", "Epoch", None)
    assert spec["$schema"] == vega.SCHEMA and spec["title"] == "Loss"
    assert spec["mark"]["type"] == "line"
    enc = spec["encoding"]
    assert enc["x"] == {"field": "epoch", "type": "quantitative", "title": "Epoch"}
    assert enc["y"]["field"] == "loss" and enc["y"]["title"] == "loss"
    assert enc["color"]["field"] == vega.REV
    assert [r[vega.REV] for r in spec["data"]["values"]] == ["v1", "v1", "v2", "v2"]
    assert spec["data"]["values"][2]["loss"] == 0.9


def test_one_revision_one_field_has_no_legend() -> None:
    spec = vega.chart("scatter", [("workspace", ROWS_A)], "epoch", ["loss"], "t")
    assert spec["mark"]["type"] == "point"
    assert "color" not in spec["encoding"]


def test_several_fields_fold_into_series() -> None:
    spec = vega.chart("line", [("v1", ROWS_A), ("v2", ROWS_B)], "epoch", ["loss", "acc"], "t")
    fold, calc = spec["transform"]
    assert fold["fold"] == ["loss", "acc"]
    assert spec["encoding"]["y"]["field"] == fold["as"][1]
    assert spec["encoding"]["color"]["field"] == calc["as"]


def test_bar_groups_revisions_side_by_side() -> None:
    rows = [{"class": "cat", "f1": 0.5}, {"class": "dog", "f1": 0.7}]
    spec = vega.chart("bar", [("a", rows), ("b", rows)], "class", ["f1"], "t")
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["type"] == "nominal"
    assert spec["encoding"]["xOffset"]["field"] == vega.REV


def test_confusion_counts_and_facets_by_revision() -> None:
    rows = [{"actual": "cat", "predicted": "dog"}, {"actual": "cat", "predicted": "cat"}]
    one = vega.chart("confusion", [("ws", rows)], "actual", ["predicted"], "cm")
    assert one["transform"][0]["groupby"] == [vega.REV, "actual", "predicted"]
    assert one["layer"][0]["mark"] == "rect" and "facet" not in one
    two = vega.chart("confusion", [("a", rows), ("b", rows)], "actual", ["predicted"], "cm")
    assert two["facet"]["column"]["field"] == vega.REV
    assert two["spec"]["encoding"]["x"]["field"] == "actual"


def test_dotted_and_bracketed_field_names_are_escaped() -> None:
    assert vega.field_ref("train.loss") == "train\\.loss"
    assert vega.field_ref("a[0]") == "a\\[0\\]"
    spec = vega.chart("line", [("ws", [{"step": 0, "train.loss": 1}])], "step", ["train.loss"], "t")
    assert spec["encoding"]["y"]["field"] == "train\\.loss"
    assert spec["data"]["values"][0]["train.loss"] == 1


def test_text_x_is_ordinal_in_file_order() -> None:
    rows = [{"day": "mon", "v": 1}, {"day": "tue", "v": 2}]
    spec = vega.chart("line", [("ws", rows)], "day", ["v"], "t")
    assert spec["encoding"]["x"]["type"] == "ordinal" and spec["encoding"]["x"]["sort"] is None


def test_trend_chart() -> None:
    points = [{"commit": "abc1234", "date": "2026-01-01 10:00", "subject": "s", "value": 0.5}]
    spec = vega.trend_chart("acc", points)
    assert spec["data"]["values"] == points
    assert spec["encoding"]["x"]["field"] == "commit" and spec["encoding"]["y"]["field"] == "value"


def test_non_finite_numbers_become_missing_points() -> None:
    rows = [{"step": 0, "loss": float("nan")}, {"step": 1, "loss": float("inf")}, {"step": 2, "loss": 1.0}]
    spec = vega.chart("line", [("ws", rows)], "step", ["loss"], "t")
    assert [r["loss"] for r in spec["data"]["values"]] == [None, None, 1.0]
