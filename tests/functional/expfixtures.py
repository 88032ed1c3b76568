"""The experiments project, shared by the experiments and cluster suites (its fixtures are
registered once, in tests/functional/conftest.py): a committed cairn project with a small real
pipeline (python stages reading params.yaml, writing a model folder and metrics through
cairn.track), driven through the real `cairn` console script (tests/conftest.py's `repo`,
`run_cairn`, `git`).

The train stage can be made to wait: `sync.signal` names a file it creates (holding its pid) when
it starts, `sync.wait` a file it waits for (`sync.timeout` s, then it fails, exit code 4) before
finishing. Tests use them to coordinate with a running experiment by behaviour instead of timing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PY = sys.executable  # the venv's interpreter: stages import yaml and cairn.track

PARAMS = """\
prepare:
  rows: 3
train:
  lr: 0.1
  depth: 2
sync:
  signal: ''
  wait: ''
  timeout: 30
"""

PREPARE = """\
import os, yaml
rows = yaml.safe_load(open("params.yaml"))["prepare"]["rows"]
os.makedirs("data", exist_ok=True)
with open("data/features.txt", "w") as f:
    f.writelines(f"row {i}\\n" for i in range(rows))
print("prepared", rows, "rows")
"""

TRAIN = """\
import os, sys, time, yaml
from cairn import track

params = yaml.safe_load(open("params.yaml"))
p, sync = params["train"], params["sync"]
if p["lr"] <= 0:
    print(f"diverged: lr={p['lr']} must be positive", file=sys.stderr)
    sys.exit(3)
rows = len(open("data/features.txt").readlines())
acc = round(1 - p["lr"] + p["depth"] / 100, 6)
os.makedirs("model", exist_ok=True)
with open("model/weights.txt", "w") as f:
    f.write(f"lr={p['lr']} depth={p['depth']} rows={rows}\\n")
with track.Run() as run:
    run.log_param("lr", p["lr"])
    run.log_metric("acc", round(acc / 2, 6))
    run.next_step()
    run.log_metric("acc", acc)
    run.log_metric("loss", round(1 - acc, 6))
    if "extra_metric" in p:  # -S +train.extra_metric=NAME logs one more series
        run.log_metric(p["extra_metric"], 1.0)
    print("trained: acc", acc, flush=True)
    if sync["signal"]:
        with open(sync["signal"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(sync["signal"] + ".tmp", sync["signal"])
    if sync["wait"]:
        deadline = time.time() + sync["timeout"]
        while not os.path.exists(sync["wait"]):
            if time.time() > deadline:
                print("timed out waiting for", sync["wait"], file=sys.stderr)
                sys.exit(4)
            time.sleep(0.02)
"""

PIPELINE = f"""\
stages:
  prepare:
    cmd: {PY} prepare.py
    deps: [prepare.py]
    params: [prepare.rows]
    outs: [data/features.txt]
  train:
    cmd: {PY} train.py
    deps: [train.py, data/features.txt]
    params: [train.lr, train.depth, sync.signal, sync.wait, sync.timeout]
    outs: [model]
    metrics:
      - track/metrics.json: {{cache: false}}
    plots:
      - track/plots: {{cache: false}}
"""

FILES = {"params.yaml": PARAMS, "prepare.py": PREPARE, "train.py": TRAIN, "cairn.yaml": PIPELINE}


class ExpRepo:
    """A committed project whose pipeline ran once (cairn.lock committed), plus shortcuts."""

    def __init__(self, project) -> None:
        self.project = project
        self.root: Path = project.root

    def __getattr__(self, name: str):
        return getattr(self.project, name)

    # -- commands ------------------------------------------------------------------------------
    def exp(self, *args: str, expect: int | None = 0, **kwargs) -> subprocess.CompletedProcess:
        return self.project.cairn("exp", *args, expect=expect, **kwargs)

    def queue(self, *args: str, expect: int | None = 0, **kwargs) -> subprocess.CompletedProcess:
        return self.project.cairn("queue", *args, expect=expect, **kwargs)

    def show(self, *args: str) -> list[dict]:
        """`exp show --json` rows."""
        return json.loads(self.exp("show", *args, "--json").stdout)

    def by_name(self, *args: str) -> dict[str, dict]:
        return {r["name"]: r for r in self.show("-A", *args)}

    def listed(self) -> dict[str, dict]:
        """`exp list --json` by name."""
        return {e["name"]: e for e in json.loads(self.exp("list", "--json").stdout)}

    def status(self) -> dict[str, dict]:
        """`queue status --json` by name."""
        return {e["name"]: e for e in json.loads(self.queue("status", "--json").stdout)}

    def wait_queue(self, timeout: float = 60, what: str = "the queue to finish") -> dict[str, dict]:
        """Poll `queue status` until nothing is queued or running; the final entries."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.status()
            if all(e["status"] not in ("queued", "running") for e in entries.values()):
                return entries
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}: {entries}")
            time.sleep(0.1)

    def wait_worker_gone(self, timeout: float = 30) -> None:
        """Wait until the background worker (pid in `queue start`'s output) has exited."""
        wait_until(lambda: not any(p.startswith("cairn queue worker") for p in _cmdlines(self.root)), timeout)

    # -- processes -------------------------------------------------------------------------------
    @staticmethod
    def wait_until(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
        wait_until(predicate, timeout, what)

    @staticmethod
    def pid_running(pid: int) -> bool:
        return pid_running(pid)

    # -- files and git -------------------------------------------------------------------------
    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def params(self) -> dict:
        import yaml

        return yaml.safe_load(self.read("params.yaml"))

    def metrics(self) -> dict:
        return json.loads(self.read("track/metrics.json"))

    def ref(self, name: str) -> str:
        return self.listed()[name]["ref"]

    def show_file(self, name: str, rel: str) -> str:
        """A file as experiment `name`'s commit holds it."""
        return self.git("show", f"{self.ref(name)}:{rel}")

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every workspace file outside .git and .cairn: bytes and mode."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in (".git", ".cairn")]
            for f in filenames:
                path = Path(dirpath, f)
                rel = path.relative_to(self.root).as_posix()
                out[rel] = (path.read_bytes(), path.lstat().st_mode)
        return out

    def reset(self) -> None:
        """Back to the committed baseline (what an experiment run in the workspace changed is gone)."""
        self.git("checkout", "-q", "--", ".")
        self.git("clean", "-qfd")
        self.cairn("checkout")


def wait_until(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _cmdlines(cwd: Path) -> list[str]:
    """Command lines (python -m stripped) of this test's processes whose cwd is `cwd`."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") != str(cwd):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "-m" in argv and "cairn" in argv:
            out.append(" ".join(["cairn", *argv[argv.index("cairn") + 1 :]]).strip())
    return out


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def _exp_template(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    """The project built once: files, `cairn repro`, everything committed."""
    root = tmp_path_factory.mktemp("exp-template") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    for rel, text in FILES.items():
        (root / rel).write_text(text)
    run_cairn("repro", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "baseline: pipeline and its lock", cwd=root)
    return root


@pytest.fixture
def exp_repo(repo, _exp_template: Path) -> Iterator[ExpRepo]:
    """tests/conftest.py's `repo` (a Project), its folder replaced by a copy of the template."""
    shutil.rmtree(repo.root)
    shutil.copytree(_exp_template, repo.root, symlinks=True)
    yield ExpRepo(repo)
    _stop_leftovers(repo.root)


def _stop_leftovers(root: Path) -> None:
    """A failing test may leave a background worker or a waiting stage behind: stop them."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == str(root) or cwd.startswith(str(root) + os.sep):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    """A folder outside the project for sync.signal / sync.wait files."""
    path = tmp_path / "markers"
    path.mkdir()
    return path
