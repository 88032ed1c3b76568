"""What a remote holds, remembered locally in SQLite and refreshed with a few list requests
(pack indexes and large loose objects), never one request per object."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (oid TEXT PRIMARY KEY, pack TEXT, off INTEGER, size INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs (id TEXT PRIMARY KEY, size INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_pack ON objects (pack);
"""

Location = tuple[str | None, int, int]  # pack id (None: stored loose), offset, size


class RemoteIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def packs(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, size FROM packs"))

    def add_pack(self, pack_id: str, size: int, rows: Iterable[tuple[str, int, int]]) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO packs VALUES (?, ?)", (pack_id, size))
            # an object already known elsewhere keeps its first location: both copies are valid
            self.db.executemany(
                "INSERT OR IGNORE INTO objects VALUES (?, ?, ?, ?)", ((o, pack_id, off, s) for o, off, s in rows)
            )

    def drop_packs(self, pack_ids: Iterable[str]) -> None:
        ids = [(p,) for p in pack_ids]
        if not ids:
            return
        with self._tx():
            self.db.executemany("DELETE FROM packs WHERE id = ?", ids)
            self.db.executemany("DELETE FROM objects WHERE pack = ?", ids)

    def set_loose(self, loose: dict[str, int]) -> None:
        """Replace the loose objects with what a listing found."""
        with self._tx():
            self.db.execute("DELETE FROM objects WHERE pack IS NULL")
            self.db.executemany("INSERT OR IGNORE INTO objects VALUES (?, NULL, 0, ?)", loose.items())

    def add_loose(self, oid: str, size: int) -> None:
        with self._tx():
            self.db.execute("INSERT OR IGNORE INTO objects VALUES (?, NULL, 0, ?)", (oid, size))

    def all_oids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT oid FROM objects")}

    def locate(self, oids: Iterable[str]) -> dict[str, Location]:
        wanted = set(oids)
        out: dict[str, Location] = {}
        for oid, pack, off, size in self.db.execute("SELECT oid, pack, off, size FROM objects"):
            if oid in wanted:
                out[oid] = (pack, off, size)
        return out

    def pack_rows(self, pack_id: str) -> list[tuple[str, int, int]]:
        return list(self.db.execute("SELECT oid, off, size FROM objects WHERE pack = ?", (pack_id,)))

    def clear(self) -> None:
        with self._tx():
            self.db.execute("DELETE FROM objects")
            self.db.execute("DELETE FROM packs")

    def _tx(self):
        return _Tx(self.db)

    def close(self) -> None:
        self.db.close()


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
