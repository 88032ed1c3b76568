"""Per-column statistics against values computed by hand."""

from __future__ import annotations

import math
import statistics

import polars as pl

from cairn.datastats.columns import BINS, SKETCH_POINTS, TOP_KEEP, table_stats


def col(st: dict, name: str) -> dict:
    return next(c for c in st["columns"] if c["name"] == name)


def test_numeric_column() -> None:
    values = [float(v) for v in range(1, 101)]
    st = table_stats(pl.DataFrame({"x": [*values, None]}))
    c = col(st, "x")
    assert st["rows"] == 101
    assert c["kind"] == "numeric" and c["type"] == "Float64"
    assert c["nulls"] == 1 and c["count"] == 100 and c["finite"] == 100
    assert (c["min"], c["max"]) == (1.0, 100.0)
    assert c["mean"] == statistics.mean(values)
    assert math.isclose(c["std"], statistics.stdev(values))
    assert len(c["sketch"]) == SKETCH_POINTS and c["sketch"][0] == 1.0 and c["sketch"][-1] == 100.0
    assert c["quantiles"]["50"] in (50.0, 51.0)
    assert c["quantiles"]["1"] == c["sketch"][1]
    assert sum(c["histogram"]["counts"]) == 100 and len(c["histogram"]["counts"]) == BINS
    assert c["histogram"]["edges"][0] == 1.0 and c["histogram"]["edges"][-1] == 100.0
    assert c["histogram"]["counts"] == [5] * 19 + [5]


def test_nan_and_inf_are_counted_apart() -> None:
    st = table_stats(pl.DataFrame({"x": [1.0, 2.0, float("nan"), float("inf"), float("-inf")]}))
    c = col(st, "x")
    assert (c["nan"], c["inf"], c["finite"]) == (1, 2, 2)
    assert (c["min"], c["max"], c["mean"]) == (1.0, 2.0, 1.5)
    assert st["warnings"] == [
        "column 'x' holds 1 NaN and 2 infinite values: counted apart, left out of min, max, mean, std, "
        "quantiles and the histogram"
    ]


def test_only_nan_has_no_sketch() -> None:
    c = col(table_stats(pl.DataFrame({"x": [float("nan")] * 3})), "x")
    assert c["finite"] == 0 and c["mean"] is None and "sketch" not in c


def test_categorical_top_values_and_exact_distinct() -> None:
    st = table_stats(pl.DataFrame({"k": ["a"] * 5 + ["b"] * 3 + ["c"] + [None]}))
    c = col(st, "k")
    assert c["kind"] == "categorical"
    assert c["top"] == [["a", 5], ["b", 3], ["c", 1]]
    assert c["distinct"] == 3 and c["nulls"] == 1 and not c["high_cardinality"]


def test_identifier_column_keeps_its_top_values_only() -> None:
    n = 3000
    st = table_stats(pl.DataFrame({"id": [f"user-{i}" for i in range(n)]}))
    c = col(st, "id")
    assert c["high_cardinality"]
    assert len(c["top"]) == TOP_KEEP
    assert any(
        w.startswith("column 'id' has ~") and w.endswith("only its top 100 values are kept and drift skips it")
        for w in st["warnings"]
    )


def test_low_cardinality_numeric_also_has_categories() -> None:
    c = col(table_stats(pl.DataFrame({"label": [0, 1, 1, 1]})), "label")
    assert c["top"] == [[1.0, 3], [0.0, 1]]


def test_boolean_and_temporal() -> None:
    import datetime

    st = table_stats(
        pl.DataFrame(
            {"b": [True, False, True, True], "d": [datetime.date(2024, 1, d) for d in (3, 1, 2, 4)]},
        )
    )
    assert col(st, "b")["mean"] == 0.75 and col(st, "b")["top"][0] == [True, 3]
    assert (col(st, "d")["min"], col(st, "d")["max"]) == ("2024-01-01", "2024-01-04")


def test_header_only_table() -> None:
    st = table_stats(pl.DataFrame({"a": pl.Series([], dtype=pl.Int64)}))
    assert st["rows"] == 0 and "the table has a header but no rows" in st["warnings"]


def test_a_large_column_takes_its_sketch_from_a_sample() -> None:
    from cairn.datastats.columns import SKETCH_SAMPLE

    n = SKETCH_SAMPLE + 100_000
    c = col(table_stats(pl.DataFrame({"x": [float(i) for i in range(n)]})), "x")
    assert c["sketch_sample"] == SKETCH_SAMPLE
    assert (c["sketch"][0], c["sketch"][-1]) == (0.0, n - 1.0)  # exact ends
    for p in (1, 25, 50, 99):  # within 0.5% of rank
        assert abs(c["sketch"][p] - p / 100 * n) < 0.005 * n
    again = col(table_stats(pl.DataFrame({"x": [float(i) for i in range(n)]})), "x")
    assert again["sketch"] == c["sketch"]  # seeded: the same data gives the same record
