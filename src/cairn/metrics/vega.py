"""Vega-Lite specs as plain dicts: line, scatter, bar and confusion-matrix templates.

Every revision's rows are tagged with the revision in field `cairn_rev`, so several revisions
overlay on one chart (colour and legend), side by side for bars, and in facets for confusion
matrices. Data travel inside the spec (`data.values`): the page and the PNG need nothing else."""

from __future__ import annotations

import math
from typing import Any

from cairn.errors import PipelineError
from cairn.metrics.formats import is_number

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
REV = "cairn_rev"
STEP = "step"
_SERIES, _VALUE, _LABEL = "cairn_series", "cairn_value", "cairn_label"
_COUNT, _MAX = "cairn_count", "cairn_max"
TEMPLATES = {
    "line": "line",
    "linear": "line",
    "simple": "line",
    "scatter": "scatter",
    "bar": "bar",
    "confusion": "confusion",
    "confusion_matrix": "confusion",
    "confusion-matrix": "confusion",
}
WIDTH, HEIGHT = 480, 300


def template_name(name: str | None, plot: str) -> str:
    if name is None:
        return "line"
    t = TEMPLATES.get(str(name).lower())
    if t is None:
        raise PipelineError(
            f"plot {plot}: unknown template {name!r}",
            "templates: line, scatter, bar, confusion (set `template:` in cairn.yaml plots)",
        )
    return t


def field_ref(name: str) -> str:
    """A field name as Vega-Lite reads it: `.` and `[` are path syntax unless escaped."""
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def _ys(props: dict[str, Any]) -> list[str] | None:
    y = props.get("y")
    if y is None:
        return None
    return [str(v) for v in y] if isinstance(y, list) else [str(y)]


def choose_fields(template: str, columns: list[str], props: dict[str, Any]) -> tuple[str, list[str], bool]:
    """(x, ys, synthesized_step) from the plot's settings, or defaults from the columns: x is
    `step` (the row number when there is no such column), y the last other column; for a
    confusion matrix `actual` and `predicted`, or the first two columns."""
    x = props.get("x")
    ys = _ys(props)
    if template == "confusion":
        x = str(x) if x is not None else ("actual" if "actual" in columns else (columns[0] if columns else "actual"))
        if ys is None:
            rest = [c for c in columns if c != x]
            ys = ["predicted" if "predicted" in columns else (rest[0] if rest else "predicted")]
        return x, ys[:1], False
    synthesized = False
    if x is None:
        x = STEP
        synthesized = STEP not in columns
    x = str(x)
    if ys is None:
        rest = [c for c in columns if c != x]
        ys = rest[-1:] if rest else []
    return x, ys, synthesized


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: a missing point instead."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _type(rows: list[dict], name: str) -> str:
    values = [r.get(name) for r in rows if r.get(name) is not None]
    return "quantitative" if values and all(is_number(v) for v in values) else "nominal"


def chart(
    template: str,
    series: list[tuple[str, list[dict[str, Any]]]],
    x: str,
    ys: list[str],
    title: str,
    x_label: str | None = None,
    y_label: str | None = None,
) -> dict[str, Any]:
    """The Vega-Lite spec of one plot. `series` is [(revision, rows)] with every field present."""
    rows = [{**{k: _finite(v) for k, v in row.items()}, REV: rev} for rev, rs in series for row in rs]
    many_revs = len(series) > 1
    spec: dict[str, Any] = {"$schema": SCHEMA, "title": title, "data": {"values": rows}}
    if template == "confusion":
        return _confusion(spec, rows, many_revs, x, ys[0], x_label, y_label)
    x_type = _type(rows, x)
    if template == "line" and x_type == "nominal":
        x_type = "ordinal"
    enc: dict[str, Any] = {
        "x": {"field": field_ref(x), "type": x_type, "title": x_label or x},
    }
    if x_type == "ordinal":
        enc["x"]["sort"] = None  # keep the file's order
    tooltip = [{"field": REV, "title": "revision"}, {"field": field_ref(x), "title": x}]
    if len(ys) == 1:
        enc["y"] = {"field": field_ref(ys[0]), "type": "quantitative", "title": y_label or ys[0]}
        if template != "bar":
            enc["y"]["scale"] = {"zero": False}
        tooltip.append({"field": field_ref(ys[0]), "title": ys[0]})
        group, group_title = (REV, "revision") if many_revs else (None, None)
    else:
        spec["transform"] = [{"fold": [field_ref(y) for y in ys], "as": [_SERIES, _VALUE]}]
        enc["y"] = {"field": _VALUE, "type": "quantitative", "title": y_label or ", ".join(ys)}
        if template != "bar":
            enc["y"]["scale"] = {"zero": False}
        tooltip += [{"field": _SERIES, "title": "field"}, {"field": _VALUE, "title": "value"}]
        if many_revs:
            spec["transform"].append({"calculate": f"datum.{REV} + ' ' + datum.{_SERIES}", "as": _LABEL})
            group, group_title = _LABEL, "revision, field"
        else:
            group, group_title = _SERIES, "field"
    if group is not None:
        enc["color"] = {"field": group, "type": "nominal", "title": group_title, "sort": None}
    enc["tooltip"] = tooltip
    if template == "line":
        spec["mark"] = {"type": "line", "point": True}
    elif template == "scatter":
        spec["mark"] = {"type": "point", "filled": True}
    else:
        spec["mark"] = {"type": "bar"}
        if x_type == "quantitative":
            enc["x"]["type"] = "ordinal"
            enc["x"]["sort"] = None
        if group is not None:
            enc["xOffset"] = {"field": group, "sort": None}
    spec["encoding"] = enc
    spec["width"], spec["height"] = WIDTH, HEIGHT
    return spec


def _confusion(spec, rows, many_revs, x, y, x_label, y_label) -> dict[str, Any]:
    spec["transform"] = [
        {"aggregate": [{"op": "count", "as": _COUNT}], "groupby": [REV, field_ref(x), field_ref(y)]},
        {"joinaggregate": [{"op": "max", "field": _COUNT, "as": _MAX}], "groupby": [REV]},
    ]
    encoding = {
        "x": {"field": field_ref(x), "type": "nominal", "title": x_label or x},
        "y": {"field": field_ref(y), "type": "nominal", "title": y_label or y},
    }
    inner = {
        "width": 300,
        "height": 300,
        "encoding": encoding,
        "layer": [
            {
                "mark": "rect",
                "encoding": {
                    "color": {"field": _COUNT, "type": "quantitative", "title": "count"},
                    "tooltip": [
                        {"field": field_ref(x), "title": x},
                        {"field": field_ref(y), "title": y},
                        {"field": _COUNT, "type": "quantitative", "title": "count"},
                    ],
                },
            },
            {
                "mark": {"type": "text"},
                "encoding": {
                    "text": {"field": _COUNT, "type": "quantitative"},
                    "color": {
                        "condition": {"test": f"datum.{_COUNT} > datum.{_MAX} / 2", "value": "white"},
                        "value": "black",
                    },
                },
            },
        ],
    }
    if many_revs:
        spec["facet"] = {"column": {"field": REV, "type": "nominal", "title": "revision", "sort": None}}
        spec["spec"] = inner
        spec["resolve"] = {"scale": {"color": "independent"}}
    else:
        spec.update(inner)
    return spec


def trend_chart(key: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    """A line of one metric over commits, oldest on the left; `points` are
    {"commit", "date", "subject", "value"} oldest first."""
    return {
        "$schema": SCHEMA,
        "title": key,
        "data": {"values": points},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "commit", "type": "ordinal", "sort": None, "title": "commit"},
            "y": {"field": "value", "type": "quantitative", "title": key, "scale": {"zero": False}},
            "tooltip": [
                {"field": "commit", "title": "commit"},
                {"field": "date", "title": "date"},
                {"field": "subject", "title": "subject"},
                {"field": "value", "title": key},
            ],
        },
        "width": WIDTH,
        "height": HEIGHT,
    }
