"""schema: parsing and checking against stats records."""

from __future__ import annotations

import polars as pl
import pytest

from cairn.datastats.columns import table_stats
from cairn.datastats.record import build
from cairn.datastats.schema import check, parse
from cairn.errors import PipelineError

REC = build(
    "ab" * 32,
    "table",
    table_stats(
        pl.DataFrame(
            {
                "age": [20, 35, None, 150],
                "city": ["oslo", "paris", "rome", "oslo"],
                "score": [0.5, float("nan"), 0.1, 0.2],
                "extra": [1, 2, 3, 4],
            }
        )
    ),
)


def test_a_passing_schema() -> None:
    s = parse({"d.csv": {"columns": {"age": {"type": "int", "nulls": 0.25}, "city": {"type": "string"}}}})["d.csv"]
    assert check(s, REC) == []


def test_every_problem_names_its_column() -> None:
    s = parse(
        {
            "d.csv": {
                "columns": {
                    "age": {"type": "int", "nulls": 0, "min": 0, "max": 120},
                    "city": {"type": "str", "categories": ["oslo", "paris"]},
                    "score": {"type": "float", "min": 0},
                    "missing": {"type": "float"},
                    "extra": {"type": "str"},
                },
                "extra_columns": False,
            }
        }
    )["d.csv"]
    assert check(s, REC) == [
        "column 'age' is 25.0% null, the schema allows 0.0%",
        "column 'age' has values above 120 (its max is 150)",
        "column 'city' has values outside its categories: 'rome'",
        "column 'score' holds NaN or infinite values, outside any range",
        "column 'missing' is missing",
        "column 'extra' is Int64, the schema says str",
    ]


def test_more_distinct_values_than_kept_top_values() -> None:
    rec = build("ab" * 32, "table", table_stats(pl.DataFrame({"c": [f"v{i}" for i in range(150)] * 2})))
    s = parse({"d": {"columns": {"c": {"categories": [f"v{i}" for i in range(150)]}}}})["d"]
    assert check(s, rec) == []
    s = parse({"d": {"columns": {"c": {"categories": ["v1"]}}}})["d"]
    assert check(s, rec)[0].startswith("column 'c' has values outside its categories: ")


def test_files_record_cannot_have_a_schema() -> None:
    s = parse({"imgs": {"columns": {"a": None}}})["imgs"]
    assert check(s, {"kind": "files"}) == ["imgs is not a table (a folder of other files): a schema cannot apply"]


def test_bad_schema_lists_every_problem() -> None:
    with pytest.raises(PipelineError) as e:
        parse(
            {
                "a.csv": {"columns": {"x": {"type": "decimal", "nulls": 2, "min": "low", "color": 1}}, "strict": 1},
                "b.csv": [1],
            }
        )
    assert e.value.problems == [
        "schema.a.csv: unknown key 'strict' (columns, extra_columns)",
        "schema.a.csv.columns.x: unknown key 'color' (categories, max, min, nulls, type)",
        "schema.a.csv.columns.x.type: 'decimal' is not one of int, float, number, str, bool, date",
        "schema.a.csv.columns.x.min: 'low' is not a number",
        "schema.a.csv.columns.x.nulls: the allowed share of nulls must be between 0 and 1, not 2.0",
        "schema.b.csv: needs `columns:` mapping column names to rules",
    ]
    assert e.value.message.startswith("cairn.yaml: the schema section has 6 problem(s): ")
