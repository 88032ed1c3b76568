"""The stat cache: (path, inode, mtime_ns, size) -> oid in SQLite, so unchanged files are
never re-read. Loaded with one query per tracked path, written in one transaction."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

# (path, inode, mtime_ns, size, oid): the row itself, to avoid building a tuple per file
Record = tuple[str, int, int, int, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY, ino INTEGER, mtime_ns INTEGER, size INTEGER, oid TEXT
) WITHOUT ROWID
"""


class StatCache:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def load(self, prefix: str) -> dict[str, Record]:
        """Every record at `prefix` or below it (paths relative to the repo root, '/'-separated)."""
        if not self.db_path.exists():
            return {}
        rows = self._db().execute(
            "SELECT path, ino, mtime_ns, size, oid FROM stat WHERE path = ? OR (path >= ? AND path < ?)",
            (prefix, prefix + "/", prefix + "0"),  # '0' sorts right after '/'
        )
        return {r[0]: r for r in rows}

    def update(self, records: Iterable[tuple[str, int, int, int, str]]) -> None:
        records = list(records)
        if not records:
            return
        db = self._db()
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?)", records)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def record_file(self, rel: str, path: str | os.PathLike[str], oid: str) -> tuple[str, int, int, int, str]:
        st = os.stat(path)
        return (rel, st.st_ino, st.st_mtime_ns, st.st_size, oid)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
