"""Fixtures of the dashboard suite: a committed project with a small real pipeline and three
real experiments (built once per module), and `cairn ui --port 0` running on it as a real
subprocess, its address read from the line it prints."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PY = sys.executable

TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
acc = round(1 - p["lr"] + p["depth"] / 100, 6)
os.makedirs("out", exist_ok=True)
json.dump({"acc": acc, "loss": round(1 - acc, 6)}, open("out/metrics.json", "w"))
with open("out/curve.csv", "w") as f:
    f.write("step,loss\\n" + "".join(f"{i},{(1 - acc) / (i + 1):.6f}\\n" for i in range(5)))
open("out/model.txt", "w").write(f"lr={p['lr']}\\n")
"""

PIPELINE = f"""\
stages:
  train:
    cmd: {PY} train.py
    deps: [train.py]
    params: [train.lr, train.depth]
    outs: [out/model.txt]
    metrics:
      - out/metrics.json: {{cache: false}}
    plots:
      - out/curve.csv: {{cache: false, x: step, y: loss}}
"""

# name -> lr; acc = 1.02 - lr, so the order by acc is fast > mid > slow
EXPERIMENTS = {"slow": 0.5, "fast": 0.1, "mid": 0.3}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


class Dashboard:
    """A running `cairn ui` and a tiny HTTP client for it (http.client: no path normalising, so a
    test can send `..` as it is)."""

    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc, self.url = proc, url
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode())
        finally:
            conn.close()

    def stop(self) -> str:
        """Ctrl-C; what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


@pytest.fixture(scope="module")
def ui_project(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    """A committed pipeline that ran once, and three experiments run from it."""
    root = tmp_path_factory.mktemp("ui") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    (root / "params.yaml").write_text("train:\n  lr: 0.2\n  depth: 2\n")
    (root / "train.py").write_text(TRAIN)
    (root / "cairn.yaml").write_text(PIPELINE)
    run_cairn("repro", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "baseline: pipeline and its lock", cwd=root)
    for name, lr in EXPERIMENTS.items():
        run_cairn("exp", "run", "-n", name, "-S", f"train.lr={lr}", cwd=root)
    return root


@pytest.fixture(scope="module")
def start_ui(start_cairn) -> Iterator[Callable[..., Dashboard]]:
    """start_ui(root, *args) -> a running Dashboard (stopped at the end of the module)."""
    running: list[Dashboard] = []

    def start(root: Path, *args: str) -> Dashboard:
        proc = start_cairn("ui", "--port", "0", *args, cwd=root)
        line = proc.stdout.readline()
        if not line.startswith("serving on "):
            proc.kill()
            pytest.fail(f"cairn ui did not start: {line!r}\n{proc.stderr.read()}")
        ui = Dashboard(proc, line.split()[-1].rstrip("/"))
        running.append(ui)
        return ui

    yield start
    for ui in running:
        ui.stop()


@pytest.fixture(scope="module")
def ui(ui_project: Path, start_ui) -> Dashboard:
    return start_ui(ui_project)


@pytest.fixture(scope="module")
def data_project(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    """raw/ and table.csv in two versions (b.txt changed, c.txt added; other rows), a model
    registered and in prod."""
    root = tmp_path_factory.mktemp("ui-data") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    (root / "raw").mkdir()
    (root / "raw" / "a.txt").write_text("a\n")
    (root / "raw" / "b.txt").write_text("b\n")
    (root / "table.csv").write_text("id,score,label\n1,5.0,x\n2,6.0,y\n")
    run_cairn("add", "raw", "table.csv", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "raw data v1", cwd=root)
    (root / "raw" / "b.txt").write_text("b, corrected\n")
    (root / "raw" / "c.txt").write_text("c\n")
    run_cairn("add", "raw", cwd=root)
    (root / "table.csv").write_text("id,score,label\n1,0.5,a\n2,1.5,b\n3,,a\n")
    run_cairn("add", "table.csv", cwd=root)
    (root / "params.yaml").write_text("train:\n  lr: 0.2\n  depth: 2\n")
    (root / "train.py").write_text(TRAIN)
    (root / "cairn.yaml").write_text(PIPELINE + "artifacts:\n  churn:\n    path: out/model.txt\n    type: model\n")
    run_cairn("repro", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "raw data v2 and a model", cwd=root)
    run_cairn("model", "register", "churn", "-m", "first model", cwd=root)
    run_cairn("model", "assign", "churn", "--stage", "prod", cwd=root)
    return root
