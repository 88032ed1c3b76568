"""Fixtures of the lineage suite: one real history, built once for the package through the real
`cairn` and `git` commands and only read by the tests (a test that changes it works on a copy).

    c1 (main, Alice)  data/raw added (pointer), pipeline prepare -> train run and committed
    c2 (main, Bob)    train.lr 0.1 -> 0.2, repro: model changes, data/features does not
    c3 (more-data)    branch from c2: a third raw file, repro: every stage reruns
    exp `fast`        on main at c2: -S train.lr=0.3
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PY = sys.executable  # the venv's interpreter: the stages import yaml

PARAMS = "prepare:\n  scale: 2\ntrain:\n  lr: 0.1\n"

PREPARE = """\
import os, yaml
s = yaml.safe_load(open("params.yaml"))["prepare"]["scale"]
os.makedirs("data/features", exist_ok=True)
for n in sorted(os.listdir("data/raw")):
    open(f"data/features/{n}", "w").write(open(f"data/raw/{n}").read() * s)
"""

TRAIN = """\
import os, yaml
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
os.makedirs("model", exist_ok=True)
feats = "".join(open(f"data/features/{n}").read() for n in sorted(os.listdir("data/features")))
open("model/model.txt", "w").write(f"lr={lr} {feats}")
"""

PIPELINE = f"""\
stages:
  prepare:
    cmd: {PY} prepare.py
    deps: [prepare.py, data/raw]
    params: [prepare.scale]
    outs: [data/features]
  train:
    cmd: {PY} train.py
    deps: [train.py, data/features]
    params: [train.lr]
    outs: [model]
"""


@dataclass
class History:
    root: Path
    c1: str
    c2: str
    c3: str
    exp_commit: str
    cairn: object  # cairn(*args, cwd=None, expect=0) -> CompletedProcess
    git: object  # git(*args) -> stdout

    def json(self, *args: str) -> dict:
        import json

        return json.loads(self.cairn("lineage", *args, "--json").stdout)


@pytest.fixture(scope="package")
def history(tmp_path_factory, _templates, run_cairn, git) -> History:
    root = tmp_path_factory.mktemp("lineage") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)

    def cairn(*args: str, cwd: Path | None = None, expect: int | None = 0):
        return run_cairn(*args, cwd=cwd or root, expect=expect)

    def g(*args: str, **kwargs) -> str:
        return git(*args, cwd=root, **kwargs)

    def commit(message: str, author: str) -> str:
        g("add", "-A")
        g("-c", f"user.name={author}", "-c", f"user.email={author.lower()}@example.com", "commit", "-qm", message)
        return g("rev-parse", "HEAD").strip()

    (root / "data" / "raw").mkdir(parents=True)
    (root / "data/raw/a.txt").write_text("a\n")
    (root / "data/raw/b.txt").write_text("b\n")
    for name, text in {"params.yaml": PARAMS, "prepare.py": PREPARE, "train.py": TRAIN, "cairn.yaml": PIPELINE}.items():
        (root / name).write_text(text)
    cairn("add", "data/raw")
    cairn("repro")
    c1 = commit("first pipeline", "Alice")
    (root / "params.yaml").write_text(PARAMS.replace("0.1", "0.2"))
    cairn("repro")
    c2 = commit("train with lr 0.2", "Bob")
    g("checkout", "-q", "-b", "more-data")
    (root / "data/raw/c.txt").write_text("c\n")
    cairn("add", "data/raw")
    cairn("repro")
    c3 = commit("a third raw file", "Carol")
    g("checkout", "-q", "main")
    cairn("checkout")
    cairn("exp", "run", "-S", "train.lr=0.3", "-n", "fast")
    g("checkout", "-q", "--", ".")  # exp run leaves its results in the workspace; back to c2
    cairn("checkout", "--force")
    ref = next(line for line in g("show-ref").splitlines() if line.endswith("/fast"))
    return History(root, c1, c2, c3, ref.split()[0], cairn, g)
