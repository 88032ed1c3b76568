"""Shared fixtures of the unit suite: real temp git repositories and cairn repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cairn.repo import Repo

Git = Callable[..., str]

# Git runs with a fixed identity and without the machine's global/system config, so a user's
# hooksPath, signing or default-branch setting cannot change what the tests see.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "cairn tests",
    "GIT_AUTHOR_EMAIL": "tests@cairn.invalid",
    "GIT_COMMITTER_NAME": "cairn tests",
    "GIT_COMMITTER_EMAIL": "tests@cairn.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def run_git(cwd: Path, *args: str) -> str:
    """Run the git CLI in `cwd` and return its stdout (stripped); fail the test on an error."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """An empty git repository (branch main) in a temp folder."""
    root = tmp_path / "project"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    return root


@pytest.fixture
def git(git_repo: Path) -> Git:
    """`git(*args)` runs the git CLI in `git_repo`."""
    return lambda *args: run_git(git_repo, *args)


@pytest.fixture
def commit(git: Git) -> Callable[[str], str]:
    """`commit(message)` stages everything and commits; returns the commit id."""

    def do(message: str) -> str:
        git("add", "-A")
        git("commit", "-q", "--allow-empty", "-m", message)
        return git("rev-parse", "HEAD")

    return do


@pytest.fixture
def repo(git_repo: Path) -> Iterator[Repo]:
    """A cairn repository initialized in `git_repo`."""
    r = Repo.init(git_repo)
    yield r
    r.close()


def write_files(base: Path, files: dict[str, bytes | str]) -> None:
    """Create files below `base` from {relative path: content}."""
    for rel, content in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        p.write_bytes(content)


@pytest.fixture
def make_files() -> Callable[[Path, dict[str, bytes | str]], None]:
    return write_files
