"""Command checks: real shell commands; one that hangs is stopped at its timeout with its whole
process group, and what it printed so far is kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cairn.checks import command


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0) until its parent reaps it
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()


def test_exit_code_and_output_in_order(tmp_path: Path):
    ran = command.run("echo one; echo two >&2; pwd; exit 4", tmp_path, 30)
    assert (ran.exit_code, ran.timed_out) == (4, False)
    assert ran.output == f"one\ntwo\n{tmp_path}\n"


def test_a_hanging_command_and_its_children_are_stopped(tmp_path: Path):
    pidfile = tmp_path / "child.pid"
    ran = command.run(f"echo started; sleep 60 & echo $! > {pidfile}; wait", tmp_path, 0.5)
    assert ran.timed_out and ran.exit_code is None
    assert ran.output == "started\n"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), "the command's child outlived the timeout"


def test_long_output_keeps_its_tail(tmp_path: Path):
    ran = command.run(f"python3 -c \"print('x' * {command.KEEP + 100}, end='END')\"", tmp_path, 30)
    assert ran.output.startswith("[... 103 characters left out ...]\n")
    assert ran.output.endswith("END") and len(ran.output) < command.KEEP + 100
