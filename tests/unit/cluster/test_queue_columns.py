"""The queue's cluster columns: a request stored with the entry, the executor that claimed it,
and a queue.db an older cairn made gaining both columns in place."""

from __future__ import annotations

import sqlite3

from cairn.experiments.queue import Queue

OLD_SCHEMA = """
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, baseline TEXT, overrides TEXT,
    targets TEXT, status TEXT, pid INTEGER, created REAL, started REAL, finished REAL,
    exit_code INTEGER, workspace TEXT, error TEXT
);
INSERT INTO queue (name, baseline, overrides, targets, status, created)
    VALUES ('old', 'abc', '["train.lr=0.1"]', '[]', 'queued', 1.0);
"""


def test_an_older_queue_gains_the_columns(tmp_path):
    path = tmp_path / "queue.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    q = Queue(path)
    try:
        (old,) = q.entries()
        assert (old.name, old.resources, old.executor) == ("old", None, None)
        q.add("big", "abc", [], [], {"cpu": 4, "memory": 8 << 30})
        assert q.get("big").resources == {"cpu": 4, "memory": 8 << 30}
        claimed = q.claim(12345, "ray")
        assert (claimed.name, claimed.executor, claimed.pid) == ("old", "ray", 12345)
    finally:
        q.close()
    again = Queue(path)  # opened again: nothing to add, nothing lost
    try:
        assert [e.name for e in again.entries()] == ["old", "big"]
    finally:
        again.close()


def test_a_dead_driver_is_named_as_such(tmp_path):
    q = Queue(tmp_path / "queue.db")
    try:
        q.add("run", "abc", [], [])
        q.claim(2**22 + 12345, "ray")  # no such process
        (entry,) = q.entries()
        assert entry.status == "failed"
        assert entry.error == f"its ray driver (pid {2**22 + 12345}) died (killed or crashed) before finishing"
    finally:
        q.close()
