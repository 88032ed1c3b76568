"""The persistent experiment queue (SQLite; survives restarts). Rows go queued -> running ->
success | failed | killed. A running row whose process is gone (kill -9, a crash) is marked
failed when anyone looks, never left stuck as running."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.errors import RepoStateError
from cairn.processes import running

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, baseline TEXT, overrides TEXT,
    targets TEXT, status TEXT, pid INTEGER, created REAL, started REAL, finished REAL,
    exit_code INTEGER, workspace TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS worker (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, stop INTEGER);
"""
# columns added later, each to a queue.db an older cairn made too: what a cluster run asks of
# a node (JSON) and which executor took the entry (NULL: the local one)
_ADDED = {"resources": "TEXT", "executor": "TEXT"}


@dataclass
class Entry:
    id: int
    name: str
    baseline: str
    overrides: list[str]
    targets: list[str]
    status: str
    pid: int | None
    created: float
    started: float | None
    finished: float | None
    exit_code: int | None
    workspace: str | None
    error: str | None
    resources: dict[str, float] | None = None
    executor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Queue:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            # unlike exps.db (an index rebuilt from the refs) the queue is the only record of
            # what is queued, so it is not silently replaced: the user decides
            self.db.close()
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise
            raise RepoStateError(
                f"the experiment queue {path} is damaged ({e})",
                f"delete it (rm {path}*) and queue again: recorded experiments stay on their refs; "
                "queued and finished entries are lost",
            ) from None
        have = {r[1] for r in self.db.execute("PRAGMA table_info(queue)")}
        for column, kind in _ADDED.items():
            if column not in have:
                try:
                    self.db.execute(f"ALTER TABLE queue ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError:  # another process added it meanwhile
                    pass

    def add(
        self, name: str, baseline: str, overrides: list[str], targets: list[str], resources: dict | None = None
    ) -> Entry:
        self.db.execute(
            "INSERT INTO queue (name, baseline, overrides, targets, status, created, resources) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            (name, baseline, json.dumps(overrides), json.dumps(targets), time.time(), _json(resources)),
        )
        return self.get(name)  # type: ignore[return-value]

    def names(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM queue")}

    def get(self, name: str) -> Entry | None:
        rows = self._rows("WHERE name = ?", (name,))
        return rows[0] if rows else None

    def entries(self) -> list[Entry]:
        self.reap()
        return self._rows("ORDER BY id", ())

    def claim(self, pid: int, executor: str | None = None) -> Entry | None:
        """Take the oldest queued entry for a runner process, atomically."""
        self.db.execute("BEGIN IMMEDIATE")
        row = self.db.execute("SELECT id FROM queue WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
        if row is None:
            self.db.execute("COMMIT")
            return None
        self.db.execute(
            "UPDATE queue SET status = 'running', pid = ?, started = ?, executor = ? WHERE id = ?",
            (pid, time.time(), executor, row[0]),
        )
        self.db.execute("COMMIT")
        return self._rows("WHERE id = ?", (row[0],))[0]

    def set_pid(self, name: str, pid: int, workspace: str | None = None) -> None:
        self.db.execute(
            "UPDATE queue SET pid = ?, workspace = COALESCE(?, workspace) WHERE name = ?", (pid, workspace, name)
        )

    def finish(self, name: str, status: str, exit_code: int | None, error: str | None = None) -> None:
        self.db.execute(
            "UPDATE queue SET status = ?, exit_code = ?, finished = ?, error = COALESCE(?, error) "
            "WHERE name = ? AND status = 'running'",
            (status, exit_code, time.time(), error, name),
        )

    def remove(self, names: list[str] | None = None) -> int:
        """Drop queued (not running) entries, or finished ones; all when names is None."""
        if names is None:
            return self.db.execute("DELETE FROM queue WHERE status != 'running'").rowcount
        return sum(
            self.db.execute("DELETE FROM queue WHERE name = ? AND status != 'running'", (n,)).rowcount for n in names
        )

    def reap(self) -> None:
        """Mark running entries whose process died as failed."""
        for entry in self._rows("WHERE status = 'running'", ()):
            if not running(entry.pid):
                # a cluster entry's pid is its driver's: Ray ends a dead driver's tasks with it
                what = "its process" if not entry.executor else f"its {entry.executor} driver (pid {entry.pid})"
                self.finish(entry.name, "failed", None, f"{what} died (killed or crashed) before finishing")

    # -- the background worker ---------------------------------------------------------------
    def worker(self) -> tuple[int | None, bool]:
        row = self.db.execute("SELECT pid, stop FROM worker WHERE id = 1").fetchone()
        return (row[0], bool(row[1])) if row else (None, False)

    def set_worker(self, pid: int | None, stop: bool = False) -> None:
        self.db.execute("INSERT OR REPLACE INTO worker VALUES (1, ?, ?)", (pid, int(stop)))

    def _rows(self, where: str, args: tuple) -> list[Entry]:
        rows = self.db.execute(
            "SELECT id, name, baseline, overrides, targets, status, pid, created, started, finished, exit_code, "
            f"workspace, error, resources, executor FROM queue {where}",
            args,
        )
        return [
            Entry(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), *r[5:13], json.loads(r[13] or "null"), r[14])
            for r in rows
        ]

    def close(self) -> None:
        self.db.close()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
