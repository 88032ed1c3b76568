"""Champion / challenger arithmetic: metrics side by side, and paired bootstrap intervals over
per-row results, so a lucky split is not mistaken for a better model.

Per-row results are a CSV or JSON Lines file with a `prediction` and a `label` column (and an
optional `id` pairing rows; otherwise rows pair by position). The metrics computed from them are
accuracy (prediction == label) and, when both are numbers, the mean absolute error."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

from cairn.errors import RegistryError

RESAMPLES = 2000
SEED = 20240601  # fixed: the same inputs always give the same interval


def side_by_side(champion: dict[str, dict[str, Any]], challenger: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """[{path, key, champion, challenger, change}] over every metric either side has."""
    rows = []
    for path in dict.fromkeys([*champion, *challenger]):
        a, b = champion.get(path) or {}, challenger.get(path) or {}
        for key in dict.fromkeys([*a, *b]):
            x, y = a.get(key), b.get(key)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
            rows.append(
                {"path": path, "key": key, "champion": x, "challenger": y, "change": y - x if numeric else None}
            )
    return rows


def read_rows(data: bytes, where: str) -> list[dict[str, Any]]:
    text = data.decode("utf-8", "replace")
    if where.endswith((".jsonl", ".ndjson")):
        rows = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    elif where.endswith(".json"):
        rows = json.loads(text)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "prediction" in r and "label" in r for r in rows):
        raise RegistryError(
            f"{where} is not per-row results (every row needs `prediction` and `label`)",
            "write one row per example with prediction and label columns (CSV or JSON Lines)",
        )
    return rows


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def pair(champion: list[dict[str, Any]], challenger: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    if all("id" in r for r in champion + challenger):
        by_id = {str(r["id"]): r for r in champion}
        return [(by_id[str(r["id"])], r) for r in challenger if str(r["id"]) in by_id]
    if len(champion) != len(challenger):
        raise RegistryError(
            f"the two evaluations wrote {len(champion)} and {len(challenger)} rows, and no `id` column pairs them",
            "evaluate both on the same data (--data REV), or add an `id` column to the per-row results",
        )
    return list(zip(champion, challenger, strict=True))


def paired_bootstrap(pairs: list[tuple[dict, dict]]) -> list[dict[str, Any]]:
    """For each row metric: both values, the difference (challenger - champion) and its 95%
    interval from resampling the same rows for both."""
    if not pairs:
        return []
    metrics: dict[str, list[tuple[float, float]]] = {
        "accuracy": [(float(a["prediction"] == a["label"]), float(b["prediction"] == b["label"])) for a, b in pairs]
    }
    errors = []
    for a, b in pairs:
        pa, la, pb, lb = (_number(a["prediction"]), _number(a["label"]), _number(b["prediction"]), _number(b["label"]))
        if None in (pa, la, pb, lb):
            break
        errors.append((abs(pa - la), abs(pb - lb)))  # type: ignore[operator]
    else:
        metrics["mae"] = errors
    rng = random.Random(SEED)
    n = len(pairs)
    picks = [[rng.randrange(n) for _ in range(n)] for _ in range(RESAMPLES)]
    out = []
    for name, values in metrics.items():
        diffs = sorted(sum(values[i][1] - values[i][0] for i in idx) / n for idx in picks)
        a = sum(v[0] for v in values) / n
        b = sum(v[1] for v in values) / n
        low, high = diffs[int(0.025 * RESAMPLES)], diffs[int(0.975 * RESAMPLES) - 1]
        out.append({"metric": name, "rows": n, "champion": a, "challenger": b, "diff": b - a, "ci95": [low, high]})
    return out
