"""Per-column statistics of a table, in two passes of polars expressions over every column at
once (the engine runs them in parallel): counts and moments first, then what needs the range
(histograms) or the sorted values (the quantile sketch) and the most frequent values."""

from __future__ import annotations

import math
from typing import Any

from cairn.datastats.engine import polars

# The stored quantile sketch: the 0th..100th percentiles of the finite values. Drift between two
# versions is computed from these alone (KS, PSI, Wasserstein), so it needs neither version's data.
SKETCH_POINTS = 101
SHOWN_QUANTILES = (1, 5, 25, 50, 75, 95, 99)
# columns with more finite values take their sketch from a seeded random sample of this many
SKETCH_SAMPLE = 200_000
BINS = 20
# most frequent values kept (the CLI shows 20); the drift of a categorical column is exact when
# it has at most this many distinct values
TOP_KEEP = 100
TOP_SHOWN = 20
# A text column with more distinct values than this share of its rows (and more than
# HIGH_CARD_MIN) is an identifier, not a category: only its top values are kept, and drift
# skips it.
HIGH_CARD_SHARE = 0.5
HIGH_CARD_MIN = 1000


def kind_of(dtype: Any) -> str:
    pl = polars()
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "categorical"
    if dtype.is_temporal():
        return "temporal"
    return "other"


def table_stats(df: Any) -> dict[str, Any]:
    """rows, columns (name, type, kind and the statistics of that kind), warnings."""
    pl = polars()
    rows = df.height
    kinds = {name: kind_of(dtype) for name, dtype in df.schema.items()}
    first = df.select(_first_pass(df.schema, kinds)).row(0, named=True) if df.width else {}
    cols: list[dict[str, Any]] = []
    warnings: list[str] = []
    second: list[Any] = []
    for i, (name, dtype) in enumerate(df.schema.items()):
        k = kinds[name]
        c: dict[str, Any] = {"name": name, "type": str(dtype), "kind": k, "nulls": first[f"{i}|nulls"]}
        c["count"] = rows - c["nulls"]
        # an estimate (HyperLogLog): never more than the values there are
        c["distinct"] = min(int(first[f"{i}|distinct"]), c["count"])
        if k == "numeric":
            _numeric(c, first, i, dtype, warnings)
            second += _numeric_second(pl, i, name, c)
        elif k in ("categorical", "boolean"):
            c["high_cardinality"] = c["distinct"] > max(HIGH_CARD_MIN, HIGH_CARD_SHARE * rows)
            if k == "boolean":
                c["mean"] = first[f"{i}|mean"]
            second.append(_top(pl, i, pl.col(name)))
            if k == "categorical":
                _mixed(c, first, i, warnings)
        elif k == "temporal":
            c["min"] = _text(first[f"{i}|min"])
            c["max"] = _text(first[f"{i}|max"])
        cols.append(c)
    if second:
        _fill(cols, df.select(second).row(0, named=True))
    for c in cols:
        if c.get("high_cardinality"):
            warnings.append(
                f"column {c['name']!r} has ~{c['distinct']:,} distinct values in {rows:,} rows: an identifier, "
                f"not a category; only its top {TOP_KEEP} values are kept and drift skips it"
            )
    if rows == 0:
        warnings.append("the table has a header but no rows")
    return {"rows": rows, "columns": cols, "warnings": warnings}


def _first_pass(schema: Any, kinds: dict[str, str]) -> list[Any]:
    pl = polars()
    exprs = []
    for i, (name, dtype) in enumerate(schema.items()):
        col, k = pl.col(name), kinds[name]
        exprs += [col.null_count().alias(f"{i}|nulls"), col.approx_n_unique().alias(f"{i}|distinct")]
        if k == "numeric":
            x = col.cast(pl.Float64) if dtype.is_decimal() else col
            fin = x.filter(x.is_finite())
            exprs += [
                fin.len().alias(f"{i}|finite"),
                fin.min().cast(pl.Float64).alias(f"{i}|min"),
                fin.max().cast(pl.Float64).alias(f"{i}|max"),
                fin.mean().alias(f"{i}|mean"),
                fin.std().alias(f"{i}|std"),
            ]
            if dtype.is_float():
                exprs += [x.is_nan().sum().alias(f"{i}|nan"), x.is_infinite().sum().alias(f"{i}|inf")]
        elif k == "boolean":
            exprs.append(col.mean().alias(f"{i}|mean"))
        elif k == "categorical":
            s = col.cast(pl.String)
            num = s.cast(pl.Float64, strict=False)
            exprs += [
                num.is_not_null().sum().alias(f"{i}|numbers"),
                s.filter(num.is_null() & s.is_not_null()).first().alias(f"{i}|text_example"),
            ]
        elif k == "temporal":
            exprs += [col.min().alias(f"{i}|min"), col.max().alias(f"{i}|max")]
    return exprs


def _numeric(c: dict, first: dict, i: int, dtype: Any, warnings: list[str]) -> None:
    c["finite"] = first[f"{i}|finite"]
    for key in ("min", "max", "mean", "std"):
        v = first[f"{i}|{key}"]
        c[key] = None if v is None or not math.isfinite(v) else float(v)
    nan, inf = (first.get(f"{i}|nan") or 0), (first.get(f"{i}|inf") or 0)
    if dtype.is_float():
        c["nan"], c["inf"] = nan, inf
    if nan or inf:
        warnings.append(
            f"column {c['name']!r} holds {nan:,} NaN and {inf:,} infinite values: counted apart, "
            "left out of min, max, mean, std, quantiles and the histogram"
        )


def _numeric_second(pl: Any, i: int, name: str, c: dict) -> list[Any]:
    if not c["finite"]:
        return []
    col = pl.col(name)
    fin = col.filter(col.is_finite()).cast(pl.Float64)
    # sorting every value of 14 numeric columns of a million rows was most of the time; the
    # percentiles of a seeded sample of SKETCH_SAMPLE are within ~0.2% of rank of the exact ones,
    # well inside the sketch's 1% steps (min and max stay exact)
    sampled = c["finite"] > SKETCH_SAMPLE
    if sampled:
        c["sketch_sample"] = SKETCH_SAMPLE
    srt = (fin.sample(n=SKETCH_SAMPLE, seed=0) if sampled else fin).sort()
    at = (pl.lit(pl.Series([p / (SKETCH_POINTS - 1) for p in range(SKETCH_POINTS)])) * (srt.len() - 1)).round()
    out = [srt.gather(at.cast(pl.Int64)).implode().alias(f"{i}|sketch")]
    lo, hi = c["min"], c["max"]
    width = (hi - lo) / BINS if hi > lo else 1.0
    bins = ((fin - lo) / width).floor().clip(0, BINS - 1).cast(pl.Int32)
    out.append(bins.alias("b").value_counts(name="n").implode().alias(f"{i}|hist"))
    if c["distinct"] <= TOP_KEEP:  # few values (a label, a count): also described as categories
        out.append(_top(pl, i, fin))
    return out


def _top(pl: Any, i: int, values: Any) -> Any:
    # renamed first: a column named like the count field would clash
    return values.drop_nulls().alias("v").value_counts(sort=True, name="n").head(TOP_KEEP).implode().alias(f"{i}|top")


def _mixed(c: dict, first: dict, i: int, warnings: list[str]) -> None:
    numbers, example = first[f"{i}|numbers"], first[f"{i}|text_example"]
    if numbers and example is not None:
        c["mixed"] = True
        warnings.append(
            f"column {c['name']!r} mixes numbers and text ({numbers:,} numbers, text such as "
            f"{_short(example)!r}): read as text"
        )


def _fill(cols: list[dict], second: dict) -> None:
    for i, c in enumerate(cols):
        sketch = second.get(f"{i}|sketch")
        if sketch is not None:
            c["sketch"] = [float(v) for v in sketch]
            c["sketch"][0], c["sketch"][-1] = c["min"], c["max"]
            c["quantiles"] = {str(q): c["sketch"][q * (SKETCH_POINTS - 1) // 100] for q in SHOWN_QUANTILES}
        hist = second.get(f"{i}|hist")
        if hist is not None:
            counts = [0] * BINS
            for row in hist:
                counts[row["b"]] = row["n"]
            lo, hi = c["min"], c["max"]
            width = (hi - lo) / BINS if hi > lo else 1.0
            c["histogram"] = {"edges": [lo + k * width for k in range(BINS + 1)], "counts": counts}
        top = second.get(f"{i}|top")
        if top is not None:
            c["top"] = [[_value(r["v"]), r["n"]] for r in top]
            if c["distinct"] <= TOP_KEEP or len(top) < TOP_KEEP:
                c["distinct"] = len(top)  # counted exactly


def _value(v: Any) -> Any:
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _short(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."
