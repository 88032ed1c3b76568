"""Waiting for a running cairn subprocess to reach a point (before killing or interrupting it)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Poll `condition` until true; fail if `proc` ends first (the data set is too small)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command finished before {what} (exit {proc.returncode}):\n{out}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)
