"""The watcher that stops stage commands when cairn dies: real processes, real signals."""

from __future__ import annotations

import os
import subprocess
import time

from cairn.pipelines.lifeline import Lifeline


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(proc: subprocess.Popen, timeout: float = 10) -> bool:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _group(cmd: str) -> subprocess.Popen:
    """A shell in its own session with a background child, as a stage command runs."""
    return subprocess.Popen(["/bin/sh", "-c", cmd], start_new_session=True, stdout=subprocess.PIPE)


def test_closing_the_pipe_stops_the_registered_groups_only() -> None:
    line = Lifeline()
    line.start()
    kept = _group("sleep 30")
    stopped = _group("sleep 30 & echo $!; wait")
    grandchild = int(stopped.stdout.readline())
    try:
        line.register(kept.pid)
        line.register(stopped.pid)
        line.unregister(kept.pid)  # ended, as far as cairn knows: never signalled
        line.close()  # what the kernel does for a killed cairn
        assert _wait_gone(stopped), "the registered group was not stopped"
        deadline = time.monotonic() + 10
        while not _gone(grandchild) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(grandchild), "the command's background child was not stopped"
        assert kept.poll() is None
    finally:
        for proc in (kept, stopped):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            proc.wait()


def test_a_normal_end_stops_nothing_and_the_watcher_exits() -> None:
    line = Lifeline()
    line.start()
    watcher = line._watcher
    assert watcher is not None
    proc = _group("sleep 30")
    try:
        line.register(proc.pid)
        line.unregister(proc.pid)
        line.close()
        assert watcher.wait(timeout=10) == 0
        assert proc.poll() is None
        line.register(proc.pid)  # after close: ignored, no error
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_a_process_that_ignores_sigterm_gets_sigkill(monkeypatch) -> None:
    monkeypatch.setattr("cairn.pipelines.lifeline.GRACE", 0.3)
    line = Lifeline()
    line.start()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline() == b"ready\n"
        line.register(proc.pid)
        line.close()
        assert _wait_gone(proc), "SIGKILL did not follow"
        assert proc.returncode == -9
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
