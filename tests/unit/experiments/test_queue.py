"""cairn.experiments.queue: the persistent SQLite queue."""

from __future__ import annotations

import os
import subprocess
import sys

from cairn.experiments.queue import Queue
from cairn.processes import running


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_entries_survive_reopening(tmp_path):
    q = Queue(tmp_path / "queue.db")
    q.add("a", "c0ffee", ["train.lr=0.1"], ["train"])
    q.add("b", "c0ffee", [], [])
    q.close()
    q = Queue(tmp_path / "queue.db")
    entries = q.entries()
    assert [(e.name, e.status, e.overrides, e.targets) for e in entries] == [
        ("a", "queued", ["train.lr=0.1"], ["train"]),
        ("b", "queued", [], []),
    ]
    assert q.names() == {"a", "b"}


def test_claim_takes_the_oldest_once(tmp_path):
    q = Queue(tmp_path / "queue.db")
    for n in "abc":
        q.add(n, "base", [], [])
    other = Queue(tmp_path / "queue.db")  # a second process's connection
    first, second = q.claim(os.getpid()), other.claim(os.getpid())
    assert (first.name, second.name) == ("a", "b")
    assert first.status == "running" and first.pid == os.getpid() and first.started
    assert q.claim(os.getpid()).name == "c"
    assert q.claim(os.getpid()) is None


def test_finish_only_moves_a_running_entry(tmp_path):
    q = Queue(tmp_path / "queue.db")
    q.add("a", "base", [], [])
    q.finish("a", "success", 0)
    assert q.get("a").status == "queued"  # never ran
    q.claim(os.getpid())
    q.finish("a", "killed", None, "killed with `cairn queue kill`")
    q.finish("a", "failed", -15)  # a later report does not overwrite the first
    e = q.get("a")
    assert (e.status, e.exit_code, e.error) == ("killed", None, "killed with `cairn queue kill`")


def test_a_running_entry_whose_process_died_is_marked_failed(tmp_path):
    q = Queue(tmp_path / "queue.db")
    q.add("gone", "base", [], [])
    q.add("here", "base", [], [])
    q.claim(dead_pid())
    q.claim(os.getpid())
    entries = {e.name: e for e in q.entries()}
    assert entries["gone"].status == "failed"
    assert entries["gone"].error == "its process died (killed or crashed) before finishing"
    assert entries["here"].status == "running"


def test_remove_never_drops_a_running_entry(tmp_path):
    q = Queue(tmp_path / "queue.db")
    for n in "abc":
        q.add(n, "base", [], [])
    q.claim(os.getpid())  # a runs
    assert q.remove(["a", "b", "zzz"]) == 1
    assert q.remove(None) == 1
    assert [e.name for e in q.entries()] == ["a"]


def test_worker_row(tmp_path):
    q = Queue(tmp_path / "queue.db")
    assert q.worker() == (None, False)
    q.set_worker(123)
    assert q.worker() == (123, False)
    q.set_worker(123, stop=True)
    assert q.worker() == (123, True)


def test_running():
    assert running(os.getpid())
    assert not running(None) and not running(0)
    assert not running(dead_pid())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        import time

        deadline = time.monotonic() + 10
        while running(zombie.pid) and time.monotonic() < deadline:  # exited, not yet reaped
            time.sleep(0.01)
        assert not running(zombie.pid)
    finally:
        zombie.wait()
