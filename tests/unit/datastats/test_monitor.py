"""Monitor specs, the column match of a batch, and the history file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cairn.datastats import monitor as mon
from cairn.datastats.columns import table_stats
from cairn.errors import DataStatsError, PipelineError, UserInputError

REF = table_stats(pl.DataFrame({"age": [1, 2], "city": ["a", "b"]}))


def test_parse_defaults_and_reference_at_a_revision() -> None:
    m = mon.parse({"prod": {"reference": "data/train.csv@v1"}}, "prod")
    assert (m.reference, m.rev, m.features, m.history, m.min_health) == (
        "data/train.csv",
        "v1",
        None,
        "monitors/prod.csv",
        0.5,
    )
    assert m.opts.numeric == "wasserstein" and m.opts.drift_share == 0.5


@pytest.mark.parametrize(
    ("doc", "name", "error", "message"),
    [
        (None, "prod", UserInputError, "cairn.yaml declares no monitors:"),
        ({"a": {"reference": "x"}}, "prod", UserInputError, "there is no monitor named 'prod'"),
        (
            {"prod": {"features": ["a"]}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod: needs `reference: PATH` (or PATH@REV)",
        ),
        (
            {"prod": {"reference": "x", "alerts": 1}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod: unknown key 'alerts'",
        ),
        (
            {"prod": {"reference": "x", "features": "age"}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod.features: must be a list of column names",
        ),
        (
            {"prod": {"reference": "x", "min_health": 2}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod.min_health: must be a number between 0 and 1, not 2",
        ),
        (
            {"prod": {"reference": "x", "history": "../../outside.csv"}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod.history: '../../outside.csv' is not a file inside the repository",
        ),
        (
            {"prod": {"reference": "../data.csv@v1"}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod.reference: '../data.csv' is not a path inside the repository",
        ),
        (
            {"prod": {"reference": "x", "history": "/tmp/h.csv"}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod.history: '/tmp/h.csv' is not a file inside the repository",
        ),
        # the drift options' own checks, named as settings of cairn.yaml, not of the command line
        (
            {"prod": {"reference": "x", "numeric": "mean"}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod: unknown drift method 'mean' for numeric columns",
        ),
        (
            {"prod": {"reference": "x", "thresholds": {"kl": 0.1}}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod: unknown drift threshold 'kl'",
        ),
        (
            {"prod": {"reference": "x", "thresholds": {"psi": "high"}}},
            "prod",
            PipelineError,
            "cairn.yaml monitors.prod: drift threshold psi must be a number >= 0, not 'high'",
        ),
    ],
)
def test_bad_specs(doc, name: str, error: type, message: str) -> None:
    with pytest.raises(error) as e:
        mon.parse(doc, name)
    assert e.value.message == message
    assert "--" not in (e.value.hint or "") and "=0." not in (e.value.hint or "")  # no command-line syntax


def test_a_batch_lacking_a_feature_is_refused_by_name() -> None:
    m = mon.parse({"prod": {"reference": "ref.csv"}}, "prod")
    batch = table_stats(pl.DataFrame({"age": [3], "town": ["c"]}))
    with pytest.raises(DataStatsError) as e:
        mon.check_columns(m, REF, batch, "batch.csv")
    assert e.value.message == (
        "the batch batch.csv does not match the reference of monitor 'prod': "
        "it lacks column(s) 'city' (it has age, town)"
    )
    assert mon.check_columns(mon.parse({"p": {"reference": "r", "features": ["age"]}}, "p"), REF, batch, "b") == ["age"]


def test_a_feature_the_reference_lacks() -> None:
    m = mon.parse({"prod": {"reference": "ref.csv", "features": ["income"]}}, "prod")
    with pytest.raises(UserInputError) as e:
        mon.check_columns(m, REF, REF, "b")
    assert e.value.message == "monitor 'prod': the reference ref.csv has no column 'income'"


def test_history_appends_rows(tmp_path: Path) -> None:
    path = tmp_path / "monitors" / "prod.csv"
    for i in range(2):
        s = {
            "time": f"2026-01-0{i + 1}T00:00:00+00:00",
            "batch": f"b{i}",
            "rows": 10,
            "health": 0.5,
            "drifted": 1,
            "tested": 2,
            "alert": i == 1,
            "scores": {"age": 0.25, "city": None},
        }
        mon.append_history(path, ["age", "city"], s)
    rows = mon.read_history(path)
    assert [r["batch"] for r in rows] == ["b0", "b1"]
    assert rows[1]["alert"] == "true" and rows[0]["score:age"] == "0.25" and rows[0]["score:city"] == ""
    typed = [mon.typed_row(r) for r in rows]
    assert typed[1]["alert"] is True and typed[0]["alert"] is False
    assert typed[0]["score:age"] == 0.25 and typed[0]["score:city"] is None
    specs = mon.trend_specs("prod", rows)
    assert [k for k, _ in specs] == ["health", "score:age", "score:city"]
    assert specs[1][1]["data"]["values"][0]["value"] == 0.25


def test_a_history_that_is_a_folder(tmp_path: Path) -> None:
    from cairn.errors import PathError

    with pytest.raises(PathError) as e:
        mon.read_history(tmp_path)
    assert e.value.message == f"the monitor history {tmp_path} is a folder"
