"""Two stats records compared: columns added, removed or retyped, the changes of their
statistics, and a drift test per column with a score and a verdict, from the records alone.

At the row counts of real data a p-value flags trivial shifts (at a million rows KS rejects
almost any change), so verdicts come from distance scores against thresholds by default:
normalized Wasserstein for numeric columns, Jensen-Shannon for categorical ones, both at 0.1
as Evidently's defaults; PSI (0.1), KS or chi-squared can be chosen instead, and p-values are
given on request. The dataset drifts when at least `drift_share` of its tested columns drift."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cairn.datastats import distances as dist
from cairn.errors import UserInputError

NUMERIC_METHODS = ("wasserstein", "psi", "ks")
CATEGORICAL_METHODS = ("jensenshannon", "psi", "chisquare")
DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.1, "chisquare": 0.05}
# a numeric column with this few distinct values is compared as categories (as Evidently does)
FEW_VALUES = 5


@dataclass
class DriftOptions:
    numeric: str = "wasserstein"
    categorical: str = "jensenshannon"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    drift_share: float = 0.5
    pvalues: bool = False  # verdicts from p-values (KS, chi-squared) below `alpha` instead
    alpha: float = 0.05
    columns: list[str] | None = None  # only these (monitors' features)

    def check(self) -> None:
        if self.numeric not in NUMERIC_METHODS:
            raise UserInputError(
                f"unknown drift method {self.numeric!r} for numeric columns", f"use one of {', '.join(NUMERIC_METHODS)}"
            )
        if self.categorical not in CATEGORICAL_METHODS:
            raise UserInputError(
                f"unknown drift method {self.categorical!r} for categorical columns",
                f"use one of {', '.join(CATEGORICAL_METHODS)}",
            )
        for k, v in self.thresholds.items():
            if k not in DEFAULT_THRESHOLDS:
                raise UserInputError(
                    f"unknown drift threshold {k!r}", f"thresholds: {', '.join(sorted(DEFAULT_THRESHOLDS))}"
                )
            if not isinstance(v, (int, float)) or v < 0:
                raise UserInputError(f"drift threshold {k} must be a number >= 0, not {v!r}", "e.g. psi=0.2")
        if not 0 < self.drift_share <= 1:
            raise UserInputError(f"drift share must be in (0, 1], not {self.drift_share}", "e.g. --drift-share 0.5")


def compare(ref: dict[str, Any], cur: dict[str, Any], opts: DriftOptions | None = None) -> dict[str, Any]:
    """The comparison document of two table records (format in docs/datastats.md)."""
    opts = opts or DriftOptions()
    opts.check()
    a = {c["name"]: c for c in ref.get("columns", [])}
    b = {c["name"]: c for c in cur.get("columns", [])}
    names = [n for n in a if n in b] if opts.columns is None else list(opts.columns)
    cols: list[dict[str, Any]] = []
    for name in a:
        if name not in b:
            cols.append({"name": name, "status": "removed", "type": [a[name]["type"], None]})
    for name in b:
        if name not in a:
            cols.append({"name": name, "status": "added", "type": [None, b[name]["type"]]})
    tested = drifted = 0
    for name in names:
        ca, cb = a.get(name), b.get(name)
        if ca is None or cb is None:
            continue
        entry = {"name": name, "status": "same" if ca["type"] == cb["type"] else "type changed"}
        entry["type"] = [ca["type"], cb["type"]]
        entry["deltas"] = _deltas(ca, cb, ref.get("rows", 0), cur.get("rows", 0))
        entry["drift"] = _drift(ca, cb, opts)
        if entry["drift"].get("drifted") is not None:
            tested += 1
            drifted += bool(entry["drift"]["drifted"])
        cols.append(entry)
    share = drifted / tested if tested else 0.0
    return {
        "rows": [ref.get("rows"), cur.get("rows")],
        "columns": cols,
        "dataset": {
            "tested": tested,
            "drifted": drifted,
            "share": share,
            "drift_share": opts.drift_share,
            "drift": bool(tested) and share >= opts.drift_share,
        },
        "methods": {"numeric": opts.numeric, "categorical": opts.categorical, "pvalues": opts.pvalues},
    }


def _deltas(a: dict, b: dict, rows_a: int, rows_b: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "null_share": [_share(a["nulls"], rows_a), _share(b["nulls"], rows_b)],
        "distinct": [a.get("distinct"), b.get("distinct")],
    }
    for key in ("min", "max", "mean", "std"):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and not isinstance(va, bool):
            out[key] = [va, vb, vb - va]
    return out


def _share(n: int, rows: int) -> float | None:
    return n / rows if rows else None


def _drift(a: dict, b: dict, opts: DriftOptions) -> dict[str, Any]:
    if a.get("high_cardinality") or b.get("high_cardinality"):
        return {"method": None, "skipped": "an identifier (almost every value distinct)"}
    few = a.get("distinct", FEW_VALUES + 1) <= FEW_VALUES and "top" in a and "top" in b
    if a["kind"] == b["kind"] == "numeric" and "sketch" in a and "sketch" in b and not few:
        return _numeric(a, b, opts)
    if a["kind"] in ("categorical", "boolean", "numeric") and "top" in a and "top" in b:
        if a["kind"] != b["kind"] and "numeric" in (a["kind"], b["kind"]):
            return {"method": None, "skipped": "its kind changed"}
        return _categorical(a, b, opts)
    if a["kind"] == "numeric" and ("sketch" not in a or "sketch" not in b):
        return {"method": None, "skipped": "no finite values on one side"}
    return {"method": None, "skipped": f"{a['kind']} columns are not tested"}


def _numeric(a: dict, b: dict, opts: DriftOptions) -> dict[str, Any]:
    sa, sb = a["sketch"], b["sketch"]
    scores = {"wasserstein": dist.wasserstein(sa, sb, a.get("std")), "psi": dist.psi(sa, sb), "ks": dist.ks(sa, sb)}
    out: dict[str, Any] = {"scores": scores}
    if opts.pvalues:
        p = dist.ks_pvalue(scores["ks"], a["finite"], b["finite"])
        out.update(method="ks", pvalue=p, alpha=opts.alpha, drifted=p < opts.alpha)
        return out
    m = opts.numeric
    t = opts.thresholds.get(m, DEFAULT_THRESHOLDS[m])
    out.update(method=m, score=scores[m], threshold=t, drifted=scores[m] >= t)
    return out


def _categorical(a: dict, b: dict, opts: DriftOptions) -> dict[str, Any]:
    ca, cb = _counts(a), _counts(b)
    keys = ca.keys() | cb.keys()
    pa = dist.shares(ca, _nonnull(a), a.get("distinct"), keys)
    pb = dist.shares(cb, _nonnull(b), b.get("distinct"), keys)
    if not pa or not pb:
        return {"method": None, "skipped": "no values on one side"}
    stat, dof = dist.chisquare(pa, pb, _nonnull(b))
    scores = {"jensenshannon": dist.jensenshannon(pa, pb), "psi": _psi(pa, pb), "chisquare": stat}
    out: dict[str, Any] = {"scores": scores}
    if opts.pvalues or opts.categorical == "chisquare":
        p = dist.chi2_pvalue(stat, dof)
        alpha = opts.alpha if opts.pvalues else opts.thresholds.get("chisquare", DEFAULT_THRESHOLDS["chisquare"])
        out.update(method="chisquare", pvalue=p, alpha=alpha, drifted=p < alpha)
        return out
    m = opts.categorical
    t = opts.thresholds.get(m, DEFAULT_THRESHOLDS[m])
    out.update(method=m, score=scores[m], threshold=t, drifted=scores[m] >= t)
    return out


def _psi(pa: dict, pb: dict) -> float:
    eps = dist.PSI_EPS
    return sum(
        (max(pb.get(k, 0), eps) - max(pa.get(k, 0), eps)) * math.log(max(pb.get(k, 0), eps) / max(pa.get(k, 0), eps))
        for k in pa.keys() | pb.keys()
    )


def _counts(c: dict) -> dict:
    return {_key(v): n for v, n in c["top"]}


def _key(v: Any) -> Any:
    # 1 and 1.0 (an int column that became float) are the same value
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _nonnull(c: dict) -> int:
    return c.get("finite", 0) if c["kind"] == "numeric" else c.get("count", 0)


def compare_files(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    """Two folders of other files: counts and bytes, in total and per extension."""
    ea = {e["extension"]: e for e in ref.get("extensions", [])}
    eb = {e["extension"]: e for e in cur.get("extensions", [])}
    exts = [
        {
            "extension": x,
            "files": [ea.get(x, {}).get("files", 0), eb.get(x, {}).get("files", 0)],
            "bytes": [ea.get(x, {}).get("bytes", 0), eb.get(x, {}).get("bytes", 0)],
        }
        for x in sorted(ea.keys() | eb.keys())
    ]
    return {"files": [ref["files"], cur["files"]], "bytes": [ref["bytes"], cur["bytes"]], "extensions": exts}
