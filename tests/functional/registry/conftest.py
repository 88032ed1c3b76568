"""Fixtures of the registry suite: a committed project declaring a `churn` model artifact
(a tracked model file, a serving module, an input example, a local data remote), and a team
of two clones sharing a bare origin."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CAIRN_YAML = """\
artifacts:
  churn:
    path: models/churn.bin
    type: model
    desc: churn classifier
    labels: [tabular]
    serve: serve_churn:predict
    signature:
      inputs: {tenure: int, charges: float}
      outputs: {churn: int}
    example: examples/churn.json
"""

SERVE = """\
import os
THRESHOLD = float(open(os.environ["CAIRN_MODEL_PATH"]).read().split()[1])

def predict(records):
    return [int(r["tenure"] + r["charges"] > THRESHOLD) for r in records]
"""


def model_bytes(threshold: float) -> bytes:
    return f"threshold {threshold}\n".encode()


@pytest.fixture
def project(repo, tmp_path: Path):
    """`repo` with the churn artifact at threshold 10, committed, its data pushed to `store`."""
    store = tmp_path / "store"
    repo.cairn("remote", "add", "-d", "store", str(store))
    repo.write(
        {
            "models/churn.bin": model_bytes(10),
            "serve_churn.py": SERVE.encode(),
            "examples/churn.json": b'[{"tenure": 3, "charges": 2.5}]',
            "cairn.yaml": CAIRN_YAML.encode(),
        }
    )
    repo.cairn("add", "models/churn.bin")
    repo.commit("churn model, threshold 10")
    repo.cairn("push")
    repo.store = store
    return repo


def new_version(project, threshold: float, message: str) -> str:
    project.write({"models/churn.bin": model_bytes(threshold)})
    project.cairn("add", "models/churn.bin")
    return project.commit(message)


@dataclass
class Team:
    origin: Path
    alice: object  # Project
    bob: object


@pytest.fixture
def team(project, tmp_path: Path, git, run_cairn) -> Team:
    """A bare origin that `project` (alice) pushed to, and bob's clone of it."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    project.git("remote", "add", "origin", str(origin))
    project.git("push", "-q", "origin", "main")
    git("clone", "-q", str(origin), "bob", cwd=tmp_path)
    bob_root = tmp_path / "bob"
    for key, value in (("user.name", "Bob"), ("user.email", "bob@example.com")):
        git("config", key, value, cwd=bob_root)
    bob = type(project)(bob_root, run_cairn, git)
    return Team(origin, project, bob)


@pytest.fixture
def server(start_cairn, home: Path) -> Iterator[Callable[..., tuple[subprocess.Popen, str]]]:
    """server(*args, cwd, python=None) -> (process, base URL): `cairn model serve ARGS --port 0`
    (or, given `python`, a bundle's `python serve.py ARGS --port 0`), read until its ready
    line; interrupted after the test."""
    started: list[subprocess.Popen] = []

    def start(*args: str, cwd: Path, python: str | None = None):
        if python is None:
            proc = start_cairn("model", "serve", *args, "--port", "0", cwd=cwd)
        else:
            env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
            proc = subprocess.Popen(
                [python, "serve.py", *args, "--port", "0"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        started.append(proc)
        line = proc.stdout.readline()  # printed once requests are answered
        if not line.startswith("serving on http://"):
            out, err = stop(proc)
            pytest.fail(f"the server did not start: {line}{out}{err}")
        return proc, line.split("serving on ", 1)[1].strip()

    yield start
    for proc in started:
        if proc.poll() is None:
            stop(proc)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Interrupt a server as Ctrl-C would and collect what it wrote."""
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
    return proc.communicate()


@pytest.fixture
def stop_server() -> Callable[[subprocess.Popen], tuple[str, str]]:
    return stop


@pytest.fixture
def release() -> Callable[..., str]:
    """release(project, threshold, message) -> commit: a new model version, committed."""
    return new_version
