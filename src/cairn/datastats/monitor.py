"""Monitors: production batches compared with reference data by the same statistics and drift
tests as `cairn data diff --stats`, a health score per batch, a history file kept in the
workspace like a metrics file (so `cairn plots` and `monitor show` draw its trend), and alerts.

    monitors:
      prod:
        reference: data/train.csv         # PATH, PATH@REV or PATH@MODEL@STAGE (default: the workspace's)
        features: [age, city]             # default: every column of the reference
        numeric: wasserstein              # or psi, ks
        categorical: jensenshannon        # or psi, chisquare
        thresholds: {wasserstein: 0.1, jensenshannon: 0.1}
        drift_share: 0.5                  # the batch drifts when this share of features drift
        min_health: 0.5                   # alert below this health (1 - share of drifted features)
        history: monitors/prod.csv        # default monitors/NAME.csv
        on_alert: ./page-someone.sh       # run with the summary as JSON on stdin
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.datastats import evaluate as evaluation
from cairn.datastats.describe import FileRef
from cairn.datastats.drift import DEFAULT_THRESHOLDS, DriftOptions
from cairn.datastats.evaluate import Evaluation
from cairn.errors import DataStatsError, PathError, PipelineError, UserInputError, shown
from cairn.metrics.vega import SCHEMA

KEYS = {
    "reference",
    "features",
    "numeric",
    "categorical",
    "thresholds",
    "drift_share",
    "min_health",
    "history",
    "on_alert",
    "evaluate",
}
FIXED_FIELDS = ["time", "batch", "rows", "health", "drifted", "tested", "alert"]


@dataclass
class Monitor:
    name: str
    reference: str
    rev: str | None = None
    features: list[str] | None = None
    opts: DriftOptions = field(default_factory=DriftOptions)
    min_health: float = 0.5
    history: str = ""
    on_alert: str | None = None
    evaluate: Evaluation | None = None


def parse(doc: Any, name: str) -> Monitor:
    """Monitor `name` of the `monitors:` section."""
    if not isinstance(doc, dict) or not doc:
        raise UserInputError("cairn.yaml declares no monitors:", "add one (docs/datastats.md, Monitoring)")
    if name not in doc:
        raise UserInputError(f"there is no monitor named {name!r}", f"monitors: {', '.join(sorted(map(str, doc)))}")
    spec = doc[name]
    at = f"cairn.yaml monitors.{name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("reference"), str):
        raise PipelineError(f"{at}: needs `reference: PATH` (or PATH@REV)", "see docs/datastats.md")
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise PipelineError(f"{at}: unknown key {shown(unknown[0])}", f"keys: {', '.join(sorted(KEYS))}")
    ref, _, rev = spec["reference"].partition("@")
    if not _inside(ref):
        raise PipelineError(
            f"{at}.reference: {shown(ref)} is not a path inside the repository",
            "name the reference dataset by its workspace path, e.g. reference: data/train.csv@v1",
        )
    features = spec.get("features")
    if features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise PipelineError(f"{at}.features: must be a list of column names", "e.g. features: [age, city]")
    thresholds = spec.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise PipelineError(f"{at}.thresholds: must map methods to numbers", "e.g. thresholds: {psi: 0.2}")
    opts = DriftOptions(
        numeric=str(spec.get("numeric", "wasserstein")),
        categorical=str(spec.get("categorical", "jensenshannon")),
        thresholds={**DEFAULT_THRESHOLDS, **thresholds},
        drift_share=_number(spec, "drift_share", 0.5, at),
        columns=features,
    )
    try:
        opts.check()
    except UserInputError as e:  # its wording is the command line's: say where in cairn.yaml it is
        hint = "e.g. thresholds: {psi: 0.2}, drift_share: 0.5" if (e.hint or "").startswith("e.g.") else e.hint
        raise PipelineError(f"{at}: {e.message}", hint) from None
    return Monitor(
        name,
        ref,
        rev or None,
        features,
        opts,
        _number(spec, "min_health", 0.5, at),
        _history(spec, name, at),
        spec.get("on_alert"),
        evaluation.parse(spec.get("evaluate"), at),
    )


def _history(spec: dict, name: str, at: str) -> str:
    """The history file, a workspace path: a monitor must not write outside the repository."""
    history = str(spec.get("history") or f"monitors/{name}.csv")
    if not _inside(history):
        raise PipelineError(
            f"{at}.history: {shown(history)} is not a file inside the repository",
            f"name a CSV file in the workspace, e.g. history: monitors/{name}.csv",
        )
    return history


def _inside(path: str) -> bool:
    """A relative path that stays in the repository (and is not its root)."""
    norm = os.path.normpath(path)
    return not (os.path.isabs(os.path.expanduser(path)) or norm in (".", "..") or norm.startswith(".." + os.sep))


def _number(spec: dict, key: str, default: float, at: str) -> float:
    v = spec.get(key, default)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
        raise PipelineError(f"{at}.{key}: must be a number between 0 and 1, not {shown(v)}", f"e.g. {key}: {default}")
    return float(v)


def check_columns(m: Monitor, ref: dict[str, Any], batch: dict[str, Any], batch_name: str) -> list[str]:
    """The features compared; a batch (or reference) lacking one is an error naming it."""
    ref_cols = [c["name"] for c in ref["columns"]]
    have = {c["name"] for c in batch["columns"]}
    features = m.features or ref_cols
    lacking_ref = [f for f in features if f not in ref_cols]
    if lacking_ref:
        raise UserInputError(
            f"monitor {m.name!r}: the reference {m.reference} has no column {lacking_ref[0]!r}",
            f"its columns: {', '.join(ref_cols)}; fix `features:` in cairn.yaml",
        )
    lacking = [f for f in features if f not in have]
    if lacking:
        names = ", ".join(repr(f) for f in lacking)
        raise DataStatsError(
            f"the batch {batch_name} does not match the reference of monitor {m.name!r}: it lacks column(s) {names} "
            f"(it has {', '.join(sorted(have)) or 'none'})",
            "send batches with the reference's columns, or narrow the monitor's `features:`",
        )
    return features


def summary(m: Monitor, batch_name: str, when: str, rows: int, drift: dict[str, Any]) -> dict[str, Any]:
    ds = drift["dataset"]
    health = 1 - ds["share"] if ds["tested"] else 1.0
    scores = {}
    for c in drift["columns"]:
        d = c.get("drift") or {}
        if d.get("method"):
            scores[c["name"]] = d.get("pvalue", d.get("score"))
    alert = bool(ds["drift"]) or health < m.min_health
    return {
        "monitor": m.name,
        "time": when,
        "batch": batch_name,
        "rows": rows,
        "health": health,
        "min_health": m.min_health,
        "drifted": ds["drifted"],
        "tested": ds["tested"],
        "alert": alert,
        "scores": scores,
        "drifted_features": [c["name"] for c in drift["columns"] if (c.get("drift") or {}).get("drifted")],
    }


def append_history(path: Path, features: list[str], s: dict[str, Any]) -> None:
    """One row per batch; written to a temp file and renamed, so a kill leaves the old history."""
    metrics = s.get("metrics") or {}
    header = FIXED_FIELDS + [f"score:{f}" for f in features] + [f"metric:{k}" for k in metrics]
    rows = read_history(path)
    row = {k: s[k] for k in FIXED_FIELDS}
    row.update({f"score:{f}": s["scores"].get(f) for f in features})
    row.update({f"metric:{k}": v for k, v in metrics.items()})
    out = io.StringIO()
    fields = list(dict.fromkeys(header + [k for r in rows for k in r]))
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in [*rows, row]:
        w.writerow({k: _cell(r.get(k)) for k in fields})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def read_history(path: Path) -> list[dict[str, str]]:
    if path.is_dir():
        raise PathError(f"the monitor history {path} is a folder", "point the monitor's `history:` at a CSV file")
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def typed_row(row: dict[str, str]) -> dict[str, Any]:
    """A history row with the types `monitor run --json` gives (the CSV holds text): counts as
    integers, health, scores and metrics as numbers (null when empty), alert as a boolean."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("rows", "drifted", "tested"):
            out[k] = _parsed(v, int)
        elif k == "health" or k.startswith(("score:", "metric:")):
            out[k] = _parsed(v, float)
        elif k == "alert":
            out[k] = v == "true"
        else:
            out[k] = v
    return out


def _parsed(v: str | None, kind: type) -> Any:
    try:
        return kind(v) if v not in (None, "") else None
    except ValueError:  # a hand-edited history: unreadable is unknown
        return None


def trend_specs(name: str, rows: list[dict[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """Vega-Lite line charts: health, and every feature's drift score, batch by batch."""
    charts = []
    keys = ["health"] + [k for k in (rows[0] if rows else {}) if k.startswith(("score:", "metric:"))]
    for key in keys:
        points = [{"time": r["time"], "batch": r["batch"], "value": _float(r.get(key))} for r in rows]
        charts.append(
            (
                key,
                {
                    "$schema": SCHEMA,
                    "title": f"{name}: {key}",
                    "data": {"values": points},
                    "mark": {"type": "line", "point": True},
                    "encoding": {
                        "x": {"field": "time", "type": "temporal", "title": "batch time"},
                        "y": {"field": "value", "type": "quantitative", "title": key},
                        "tooltip": [{"field": "batch"}, {"field": "time"}, {"field": "value"}],
                    },
                    "width": 560,
                    "height": 220,
                },
            )
        )
    return charts


def trend_page(m: Monitor, rows: list[dict[str, str]], out_dir: Path) -> Path:
    """`out_dir/monitor-NAME.html`: health and every feature's score over the batches, with the
    Vega scripts inlined (works offline, as `cairn plots` pages do)."""
    from cairn.metrics import html

    charts = [html.PageChart(k, k, spec) for k, spec in trend_specs(m.name, rows)]
    page = html.page(f"monitor {m.name}", f"{len(rows)} batches, history in {m.history}", charts, [], [])
    return html.write(out_dir, f"monitor-{m.name}.html", page)


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def batch_files(batches: list[str]) -> list[FileRef]:
    """The files of a batch given as files and folders (walked, in name order), each named as the
    user would write it (`batches/day1/a.csv`): messages about a file say which one."""
    out = []
    for b in batches:
        p = os.path.abspath(b)
        if os.path.isdir(p):
            for dirpath, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    full = os.path.join(dirpath, f)
                    rel = os.path.join(b, os.path.relpath(full, p)).replace(os.sep, "/")
                    out.append(FileRef(rel, full, os.path.getsize(full)))
        elif os.path.isfile(p):
            out.append(FileRef(b, p, os.path.getsize(p)))
        else:
            raise PathError(f"{b} does not exist", "give batch files or folders of them")
    return out


def run_on_alert(command: str, s: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run the monitor's `on_alert` command (a shell line, as a stage's cmd) with the summary as
    JSON on stdin; its exit status is reported, never raised: the alert itself is the exit 1."""
    proc = subprocess.run(command, shell=True, cwd=cwd, input=json.dumps(s), text=True, capture_output=True)
    return {"command": command, "exit": proc.returncode}
