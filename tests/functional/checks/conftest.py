"""Fixtures of the checks suite: a project with history, built once per session through the real
CLI and copied for each test.

History (branch main), one commit per value of HISTORY, tag v1 at the first:
- params.yaml train.acc; stage train (train.py) writes metrics.json (a cached metrics output,
  in cairn.lock, not in git: acc, train.loss, note), loss.csv (a cached plot) and model/model.txt
- eval/scores.json: git-tracked top-level metrics (f1), from the third commit on
- data/raw: tracked with `cairn add` (a dep of train)
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

HISTORY = [0.80, 0.82, 0.81, 0.83, 0.82, 0.84]

PIPELINE = f"""
metrics:
  - eval/scores.json
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py, data/raw]
    params: [train.acc]
    outs: [model/model.txt]
    metrics:
      - metrics.json: {{cache: true}}
    plots:
      - loss.csv: {{cache: true, x: epoch, y: loss, title: Training loss}}
"""

TRAIN = """
import json, os
import yaml

acc = yaml.safe_load(open("params.yaml"))["train"]["acc"]
json.dump({"acc": acc, "train": {"loss": round(1 - acc, 4)}, "note": f"acc={acc}"}, open("metrics.json", "w"))
with open("loss.csv", "w") as f:
    f.write("epoch,loss\\n" + "".join(f"{e},{round((1 - acc) / (e + 1), 4)}\\n" for e in range(4)))
os.makedirs("model", exist_ok=True)
files = sorted(os.listdir("data/raw"))
open("model/model.txt", "w").write(f"model acc={acc} trained on {len(files)} files\\n")
"""


def write(root: Path, rel: str, text: str | dict) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(text) if isinstance(text, dict) else textwrap.dedent(text).lstrip("\n"))


def with_checks(checks: str) -> str:
    """cairn.yaml: the pipeline plus a `checks:` section."""
    return textwrap.dedent(PIPELINE).lstrip("\n") + "checks:\n" + textwrap.indent(textwrap.dedent(checks).strip(), "  ")


@pytest.fixture(scope="session")
def _checks_history(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    root = tmp_path_factory.mktemp("checks-history") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    write(root, "cairn.yaml", PIPELINE)
    write(root, "train.py", TRAIN)
    write(root, ".gitignore", "/metrics.json\n/loss.csv\n/model/\n/cairn_report/\n")
    write(root, "data/raw/a.txt", "first file\n")
    run_cairn("add", "data/raw", cwd=root)
    for i, acc in enumerate(HISTORY):
        write(root, "params.yaml", f"train:\n  acc: {acc}\n")
        if i >= 2:
            write(root, "eval/scores.json", {"f1": round(acc - 0.1, 2)})
        run_cairn("repro", cwd=root)
        git("add", "-A", cwd=root)
        git("commit", "-q", "-m", f"train acc {acc}", cwd=root)
        if i == 0:
            git("tag", "v1", cwd=root)
    return root


@pytest.fixture
def proj(repo, _checks_history: Path):
    """A fresh copy of the history; `repo` (tests/conftest.py) drives it."""
    shutil.rmtree(repo.root)
    shutil.copytree(_checks_history, repo.root, symlinks=True)
    return repo


@pytest.fixture
def set_checks():
    def do(project, checks: str) -> None:
        (project.root / "cairn.yaml").write_text(with_checks(checks))

    return do
