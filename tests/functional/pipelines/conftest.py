"""Fixtures of the pipeline suite: a cairn repository (tests/conftest.py's `repo`) with shortcuts
for writing cairn.yaml, running `cairn repro` and reading cairn.lock and `cairn status`."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import yaml


class Pipe:
    """A temp git + cairn repository, driven through the real `cairn` console script."""

    def __init__(self, project) -> None:
        self.project = project
        self.root: Path = project.root

    def __getattr__(self, name: str):
        return getattr(self.project, name)

    def yaml(self, text: str) -> None:
        """Write cairn.yaml (dedented)."""
        (self.root / "cairn.yaml").write_text(textwrap.dedent(text).lstrip("\n"))

    def file(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def repro(self, *args: str, expect: int | None = 0, **kwargs) -> subprocess.CompletedProcess:
        return self.project.cairn("repro", *args, expect=expect, **kwargs)

    def lock(self) -> dict:
        doc = yaml.safe_load((self.root / "cairn.lock").read_text())
        assert isinstance(doc, dict)
        return doc

    def locked(self) -> list[str]:
        """Names of the stages cairn.lock records, in file order."""
        if not (self.root / "cairn.lock").exists():
            return []
        return list(self.lock()["stages"])

    def stale(self) -> dict[str, list[str]]:
        """`cairn status --json`'s stages: stale stage -> reasons."""
        return self.project.json("status")["stages"]

    def ran(self, proc: subprocess.CompletedProcess) -> list[str]:
        """Stages whose command ran, from the `Running stage 'x'` lines on stderr."""
        return [ln.split("'")[1] for ln in proc.stderr.splitlines() if ln.startswith("Running stage '")]

    def ignored(self, rel: str) -> bool:
        proc = subprocess.run(["git", "check-ignore", "-q", rel], cwd=self.root, capture_output=True)
        return proc.returncode == 0


@pytest.fixture
def pipe(repo) -> Pipe:
    return Pipe(repo)


@pytest.fixture(scope="session")
def wait_for():
    """wait_for(predicate, timeout=10): poll until true; fail the test on timeout."""

    def wait(predicate, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    return wait


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (exited, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@pytest.fixture(scope="session")
def gone():
    return process_gone


@pytest.fixture(scope="session")
def posix_only():
    if os.name != "posix":
        pytest.skip("process groups and SIGINT are POSIX")
