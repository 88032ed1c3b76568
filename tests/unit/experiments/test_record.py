"""What `queue status` shows as a running experiment's live values (record.live_metrics)."""

from __future__ import annotations

import json
from pathlib import Path

from cairn.experiments.record import live_metrics

PIPELINE = """\
stages:
  train:
    cmd: python train.py
    wdir: src
    metrics:
      - out/scores.json: {cache: false}
  eval:
    cmd: python eval.py
    metrics:
      - eval.csv: {cache: false}
"""


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_the_declared_metrics_files_are_read(tmp_path: Path) -> None:
    _write(tmp_path, "cairn.yaml", PIPELINE)
    _write(tmp_path, "track/metrics.json", '{"acc": 0.1}')  # not declared: not read when others are
    assert live_metrics(tmp_path) == {"acc": 0.1}  # nothing declared is written yet: track/
    _write(tmp_path, "src/out/scores.json", json.dumps({"acc": 0.5, "loss": {"train": 0.2}}))
    assert live_metrics(tmp_path) == {"acc": 0.5, "loss.train": 0.2}  # one file: plain keys
    _write(tmp_path, "eval.csv", "step,auc\n0,0.6\n1,0.7\n")
    assert live_metrics(tmp_path) == {  # several files: FILE:KEY, the last row of a CSV
        "src/out/scores.json:acc": 0.5,
        "src/out/scores.json:loss.train": 0.2,
        "eval.csv:step": 1,
        "eval.csv:auc": 0.7,
    }
    _write(tmp_path, "src/out/scores.json", '{"acc": 0.')  # half written: skipped, not an error
    assert live_metrics(tmp_path) == {"step": 1, "auc": 0.7}


def test_without_a_usable_pipeline_track_is_read(tmp_path: Path) -> None:
    assert live_metrics(tmp_path) == {}
    _write(tmp_path, "track/metrics.json", '{"acc": 0.3, "step": 2}')
    assert live_metrics(tmp_path) == {"acc": 0.3, "step": 2}
    _write(tmp_path, "cairn.yaml", "stages: [not, a, mapping]\n")
    assert live_metrics(tmp_path) == {"acc": 0.3, "step": 2}
