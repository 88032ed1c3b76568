"""A monitor's evaluation of batches that carry labels: the development evaluation's command run
on the batch, its metrics recorded next to the drift scores and held to bounds.

    evaluate:
      cmd: python eval.py --data "$CAIRN_BATCH" --out "$CAIRN_METRICS"
      labels: churned            # run only when the batch has this column (default: always)
      min: {accuracy: 0.8}       # an alert below
      max: {log_loss: 0.5}       # an alert above

The command runs in the repository root with `/bin/sh -c`, with CAIRN_BATCH (the batch's paths,
joined by the path separator `:`) and CAIRN_METRICS (a file to write its metrics to, a JSON object
of numbers, nested objects flattened as `a.b`)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.errors import PipelineError, StageFailedError, shown

KEYS = {"cmd", "labels", "min", "max"}


@dataclass
class Evaluation:
    cmd: str
    labels: str | None = None
    min: dict[str, float] = field(default_factory=dict)
    max: dict[str, float] = field(default_factory=dict)


def parse(spec: Any, at: str) -> Evaluation | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("cmd"), str) or not spec["cmd"].strip():
        raise PipelineError(f"{at}.evaluate: needs `cmd:`, the command that writes $CAIRN_METRICS", "docs/datastats.md")
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise PipelineError(f"{at}.evaluate: unknown key {shown(unknown[0])}", f"keys: {', '.join(sorted(KEYS))}")
    bounds = {}
    for key in ("min", "max"):
        b = spec.get(key) or {}
        if not isinstance(b, dict) or not all(_number(v) for v in b.values()):
            raise PipelineError(
                f"{at}.evaluate.{key}: must map metric names to numbers", f"e.g. {key}: {{accuracy: 0.8}}"
            )
        bounds[key] = {str(k): float(v) for k, v in b.items()}
    labels = spec.get("labels")
    return Evaluation(spec["cmd"], None if labels is None else str(labels), bounds["min"], bounds["max"])


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def run(ev: Evaluation, monitor: str, batch: list[str], cwd: Path) -> dict[str, float]:
    """The metrics the command wrote; StageFailedError when it fails or writes none."""
    with tempfile.TemporaryDirectory(prefix="cairn-eval-") as tmp:
        out = os.path.join(tmp, "metrics.json")
        env = {**os.environ, "CAIRN_BATCH": os.pathsep.join(os.path.abspath(b) for b in batch), "CAIRN_METRICS": out}
        proc = subprocess.run(ev.cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["it printed nothing"]
            raise StageFailedError(
                f"the evaluation of monitor {monitor!r} failed (exit {proc.returncode}): {tail[0]}",
                f"run it by hand: CAIRN_BATCH=... CAIRN_METRICS=out.json {ev.cmd}",
            )
        try:
            doc = json.loads(Path(out).read_text())
        except (OSError, ValueError):
            doc = None
    if not isinstance(doc, dict):
        raise StageFailedError(
            f"the evaluation of monitor {monitor!r} wrote no metrics: $CAIRN_METRICS holds no JSON object",
            'write the metrics as a JSON object of numbers to the file named by $CAIRN_METRICS, e.g. {"accuracy": 0.9}',
        )
    return _flat(doc)


def _flat(doc: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif _number(v):
            out[f"{prefix}{k}"] = float(v)
    return out


def judge(ev: Evaluation, metrics: dict[str, float]) -> list[str]:
    """Each bound a metric breaks (a bound on a metric the command did not write breaks too)."""
    problems = []
    for name, lo in ev.min.items():
        v = metrics.get(name)
        if v is None or v < lo:
            problems.append(f"{name} {'missing' if v is None else f'{v:g}'} < {lo:g}")
    for name, hi in ev.max.items():
        v = metrics.get(name)
        if v is None or v > hi:
            problems.append(f"{name} {'missing' if v is None else f'{v:g}'} > {hi:g}")
    return problems
