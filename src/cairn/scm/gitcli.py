"""The git CLI, for what talks to a git remote: credential helpers, ssh config and URL rewrites
apply as they do for the user's own `git`. Never prompts (no terminal to answer it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_git(root: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess | None:
    """Run `git ARGS` in `root`; None when it did not finish within `timeout` seconds."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None


def failure(proc: subprocess.CompletedProcess) -> str:
    """What went wrong, in git's words: its first `fatal:` or `error:` line (the last is often
    boilerplate, "...and the repository exists.")."""
    detail = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    fatal = [ln for ln in detail if ln.startswith(("fatal:", "error:"))]
    return (fatal or detail or [f"exit code {proc.returncode}"])[0]
