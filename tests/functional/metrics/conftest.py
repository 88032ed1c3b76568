"""Fixtures of the metrics suite: a project with history, built once per session through the
real CLI (`cairn repro` records cached outputs in cairn.lock) and copied for each test.

History (branch main): v1 -> v2 -> v3 (HEAD); branch exp: v2 -> one commit with lr 0.5.
- params.yaml: train.lr 0.01 / 0.02 / 0.03, train.epochs 3 / 4 / 5, model.name resnet
- metrics.json and loss.csv: cached outputs of stage train (in cairn.lock, not in git)
- eval/scores.yaml: git-tracked top-level metrics; `auc` appears from v2 on
- confusion.csv (confusion template) and images/sample.png: git-tracked top-level plots
"""

from __future__ import annotations

import shutil
import struct
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

PIPELINE = f"""
metrics:
  - eval/scores.yaml
plots:
  - confusion.csv: {{template: confusion, x: actual, y: predicted, title: Confusion}}
  - images
stages:
  train:
    cmd: {sys.executable} train.py
    params: [train.lr, train.epochs]
    metrics:
      - metrics.json: {{cache: true}}
    plots:
      - loss.csv: {{cache: true, x: epoch, y: loss, title: Training loss, x_label: Epoch}}
"""

TRAIN = """
import json
import yaml

p = yaml.safe_load(open("params.yaml"))["train"]
lr, epochs = p["lr"], p["epochs"]
json.dump({"acc": round(0.5 + lr * 10, 4), "train": {"loss": round(1 - lr * 10, 4)}, "note": f"lr={lr}"},
          open("metrics.json", "w"))
with open("loss.csv", "w") as f:
    f.write("epoch,loss\\n" + "".join(f"{e},{round(1 / (e + 1) - lr, 4)}\\n" for e in range(epochs)))
"""


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _write(root: Path, rel: str, text: str | bytes) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def _params(lr: float, epochs: int) -> str:
    return f"train:\n  lr: {lr}\n  epochs: {epochs}\nmodel:\n  name: resnet\n"


@pytest.fixture(scope="session")
def _history(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    root = tmp_path_factory.mktemp("metrics-history") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)

    def commit(message: str, tag: str | None = None) -> None:
        run_cairn("repro", cwd=root)
        git("add", "-A", cwd=root)
        git("commit", "-q", "-m", message, cwd=root)
        if tag:
            git("tag", tag, cwd=root)

    _write(root, "cairn.yaml", PIPELINE)
    _write(root, "train.py", TRAIN)
    _write(root, ".gitignore", "/metrics.json\n/loss.csv\n/cairn_plots/\n")
    _write(root, "confusion.csv", "actual,predicted\ncat,cat\ncat,dog\ndog,dog\ndog,dog\n")
    _write(root, "images/sample.png", png_bytes())
    for i, (lr, epochs) in enumerate([(0.01, 3), (0.02, 4)], start=1):
        _write(root, "params.yaml", _params(lr, epochs))
        scores = f"f1: {0.6 + 0.1 * i:.2f}\n" + (f"auc: {0.7 + 0.1 * i:.2f}\n" if i >= 2 else "")
        _write(root, "eval/scores.yaml", scores)
        commit(f"train {i}", f"v{i}")
    git("checkout", "-q", "-b", "exp", cwd=root)
    _write(root, "params.yaml", _params(0.05, 2))
    commit("try a large lr")
    git("checkout", "-q", "main", cwd=root)
    run_cairn("checkout", cwd=root)
    run_cairn("repro", cwd=root)
    _write(root, "params.yaml", _params(0.03, 5))
    _write(root, "eval/scores.yaml", "f1: 0.90\nauc: 0.95\n")
    _write(root, "images/sample.png", png_bytes(rgb=(30, 200, 30)))
    commit("train 3", "v3")
    return root


@pytest.fixture
def proj(repo, _history: Path):
    """A fresh copy of the history; `repo` (tests/conftest.py) drives it."""
    shutil.rmtree(repo.root)
    shutil.copytree(_history, repo.root, symlinks=True)
    return repo
