"""`schema:` in cairn.yaml: what a dataset's columns must be (type, allowed null share, range,
categories), checked against its stats record, so a check of a version whose stats exist reads
no data.

    schema:
      data/train.csv:
        columns:
          age: {type: int, nulls: 0, min: 0, max: 120}
          city: {type: str, categories: [paris, oslo]}
        extra_columns: false      # default true: columns the schema does not name are fine
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.errors import PipelineError, shown

# schema type -> test of a stats column (its polars type and kind)
TYPES = {
    "int": lambda c: c["type"].startswith(("Int", "UInt")),
    "float": lambda c: c["type"].startswith("Float") or c["type"].startswith("Decimal"),
    "number": lambda c: c["kind"] == "numeric",
    "str": lambda c: c["kind"] == "categorical",
    "bool": lambda c: c["kind"] == "boolean",
    "date": lambda c: c["kind"] == "temporal",
}
ALIASES = {"integer": "int", "string": "str", "category": "str", "boolean": "bool", "datetime": "date"}
COLUMN_KEYS = {"type", "nulls", "min", "max", "categories"}


@dataclass
class ColumnRule:
    type: str | None = None
    nulls: float = 1.0  # the largest allowed share of nulls
    min: float | None = None
    max: float | None = None
    categories: list[Any] | None = None


@dataclass
class Schema:
    path: str
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    extra_columns: bool = True


def parse(doc: Any, where: str = "cairn.yaml") -> dict[str, Schema]:
    """The `schema:` section (path -> Schema); PipelineError listing every problem."""
    problems: list[str] = []
    out: dict[str, Schema] = {}
    if doc is None:
        return out
    if not isinstance(doc, dict):
        raise PipelineError(f"{where}: schema: must map dataset paths to their columns", "see docs/datastats.md")
    for path, spec in doc.items():
        at = f"schema.{path}"
        if not isinstance(spec, dict) or not isinstance(spec.get("columns"), dict):
            problems.append(f"{at}: needs `columns:` mapping column names to rules")
            continue
        unknown = set(spec) - {"columns", "extra_columns"}
        if unknown:
            problems.append(f"{at}: unknown key {shown(sorted(unknown)[0])} (columns, extra_columns)")
        s = Schema(str(path), extra_columns=bool(spec.get("extra_columns", True)))
        for name, rule in spec["columns"].items():
            s.columns[str(name)] = _rule(rule, f"{at}.columns.{name}", problems)
        out[str(path)] = s
    if problems:
        raise PipelineError(
            f"{where}: the schema section has {len(problems)} problem(s): " + "; ".join(problems),
            "see docs/datastats.md for the schema format",
            problems,
        )
    return out


def _rule(rule: Any, at: str, problems: list[str]) -> ColumnRule:
    if rule is None:
        return ColumnRule()
    if not isinstance(rule, dict):
        problems.append(f"{at}: must be a mapping (type, nulls, min, max, categories)")
        return ColumnRule()
    for k in set(rule) - COLUMN_KEYS:
        problems.append(f"{at}: unknown key {shown(k)} ({', '.join(sorted(COLUMN_KEYS))})")
    r = ColumnRule()
    t = rule.get("type")
    if t is not None:
        t = ALIASES.get(str(t), str(t))
        if t not in TYPES:
            problems.append(f"{at}.type: {shown(rule.get('type'))} is not one of {', '.join(TYPES)}")
        r.type = t
    for key in ("nulls", "min", "max"):
        v = rule.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            problems.append(f"{at}.{key}: {shown(v)} is not a number")
        elif v is not None:
            setattr(r, key, float(v))
    if not 0 <= r.nulls <= 1:
        problems.append(f"{at}.nulls: the allowed share of nulls must be between 0 and 1, not {r.nulls}")
    cats = rule.get("categories")
    if cats is not None and not isinstance(cats, list):
        problems.append(f"{at}.categories: must be a list of values")
    elif cats is not None:
        r.categories = cats
    return r


def check(schema: Schema, rec: dict[str, Any]) -> list[str]:
    """What in the stats record `rec` breaks `schema`, one message per problem, each naming its
    column."""
    if rec.get("kind") != "table":
        return [f"{schema.path} is not a table (a folder of other files): a schema cannot apply"]
    cols = {c["name"]: c for c in rec["columns"]}
    rows = rec["rows"]
    problems = []
    for name, rule in schema.columns.items():
        c = cols.get(name)
        if c is None:
            problems.append(f"column {name!r} is missing")
            continue
        if rule.type is not None and not TYPES[rule.type](c):
            problems.append(f"column {name!r} is {c['type']}, the schema says {rule.type}")
        share = c["nulls"] / rows if rows else 0.0
        if share > rule.nulls:
            problems.append(f"column {name!r} is {share:.1%} null, the schema allows {rule.nulls:.1%}")
        if rule.min is not None and isinstance(c.get("min"), (int, float)) and c["min"] < rule.min:
            problems.append(f"column {name!r} has values below {_n(rule.min)} (its min is {_n(c['min'])})")
        if rule.max is not None and isinstance(c.get("max"), (int, float)) and c["max"] > rule.max:
            problems.append(f"column {name!r} has values above {_n(rule.max)} (its max is {_n(c['max'])})")
        if (c.get("nan") or c.get("inf")) and (rule.min is not None or rule.max is not None):
            problems.append(f"column {name!r} holds NaN or infinite values, outside any range")
        if rule.categories is not None:
            problems += _categories(name, c, rule.categories)
    if not schema.extra_columns:
        for name in cols:
            if name not in schema.columns:
                problems.append(f"column {name!r} is not in the schema (extra_columns: false)")
    return problems


def _categories(name: str, c: dict[str, Any], allowed: list[Any]) -> list[str]:
    ok = {str(a) for a in allowed}
    top = c.get("top") or []
    outside = [v for v, _ in top if str(v) not in ok]
    if outside:
        shown_vals = ", ".join(repr(v) for v in outside[:5]) + (", ..." if len(outside) > 5 else "")
        return [f"column {name!r} has values outside its categories: {shown_vals}"]
    # values beyond the stored top ones are not known: more distinct values than categories
    # is a violation for sure; fewer cannot be told from the stats
    if c.get("distinct", 0) > len(top) and c["distinct"] > len(ok):
        return [f"column {name!r} has {c['distinct']:,} distinct values, more than its {len(ok)} categories"]
    return []


def _n(v: float) -> str:
    return f"{v:g}"
