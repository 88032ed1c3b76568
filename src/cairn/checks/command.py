"""Command checks: a shell command run in the repository root; exit 0 passes. Its output
(stdout and stderr together, as a person would see them) is kept for the report, and a command
that outlives its timeout is stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

KEEP = 64 * 1024  # the tail of a long output: what a report can show
_GRACE_S = 2.0  # after SIGTERM, how long the group has before SIGKILL


@dataclass
class Ran:
    exit_code: int | None  # None when it was stopped at its timeout
    output: str
    seconds: float
    timed_out: bool = False


def run(command: str, cwd: Path, timeout: float) -> Ran:
    start = time.monotonic()
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: a timeout or Ctrl-C stops its children too
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Ran(proc.returncode, _tail(out), time.monotonic() - start)
    except subprocess.TimeoutExpired:
        out = _stop(proc)
        return Ran(None, _tail(out), time.monotonic() - start, timed_out=True)
    except BaseException:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> bytes:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            out, _ = proc.communicate(timeout=_GRACE_S)
            return out or b""
        except subprocess.TimeoutExpired:
            continue
    # a grandchild that left the group may still hold the pipe open: take what is there
    try:
        out, _ = proc.communicate(timeout=_GRACE_S)
        return out or b""
    except subprocess.TimeoutExpired:
        proc.kill()
        return b""


def _tail(out: bytes | None) -> str:
    text = (out or b"").decode("utf-8", errors="replace")
    if len(text) > KEEP:
        return f"[... {len(text) - KEEP} characters left out ...]\n" + text[-KEEP:]
    return text
