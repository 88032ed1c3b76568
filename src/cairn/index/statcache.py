"""The stat cache: (path, inode, (mtime_ns, ctime_ns), size) -> oid, so unchanged files are
never re-read.

Stored in SQLite as one row per folder whose value is the marshalled {name: (inode, stamp,
size, oid)} of its files: loading 20k files is 20 small blobs (~3 ms) instead of 20k rows
(~20 ms, most of a no-op `status`). Writes merge into the folders' rows in one transaction."""

from __future__ import annotations

import marshal
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

# (mtime_ns, ctime_ns): when a file last changed, as `stamp` reads it
Stamp = tuple[int, int]
# (path, inode, stamp, size, oid): one file's row as callers build it
Record = tuple[str, int, Stamp, int, str]
# (inode, stamp, size, oid): one file as stored under its folder
Entry = tuple[int, Stamp, int, str]
# folder (repo-relative, "" for the root) -> name -> entry
Folders = dict[str, dict[str, Entry]]

_VERSION = 3  # 1: one row per file; 2: mtime alone
_SCHEMA = "CREATE TABLE IF NOT EXISTS folders (folder TEXT PRIMARY KEY, files BLOB) WITHOUT ROWID"


def stamp(st: os.stat_result) -> Stamp:
    """When a file last changed, as the stat cache compares it. ctime too, as git does: tools
    that restore modification times (tar, unzip, rsync -t, cp -p) can give a new version the old
    version's mtime and size, and a file deleted and written again often gets the freed inode
    number back; ctime cannot be set and changes on every write."""
    return (st.st_mtime_ns, st.st_ctime_ns)


def split(rel: str) -> tuple[str, str]:
    """(folder, name) of a repo-relative path."""
    folder, _, name = rel.rpartition("/")
    return folder, name


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
            if conn.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
                # a cache, not data: an older layout is dropped and rebuilt by the next walk
                conn.execute("DROP TABLE IF EXISTS stat")
                conn.execute("DROP TABLE IF EXISTS folders")
                conn.execute(f"PRAGMA user_version = {_VERSION}")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def load(self, prefix: str) -> Folders:
        """The folder `prefix` and every folder below it, with their files."""
        if not self.db_path.exists():
            return {}
        rows = self._db().execute(
            "SELECT folder, files FROM folders WHERE folder = ? OR (folder >= ? AND folder < ?)",
            (prefix, prefix + "/", prefix + "0"),  # '0' sorts right after '/'
        )
        return {folder: marshal.loads(blob) for folder, blob in rows}

    def entry(self, rel: str) -> Entry | None:
        """One file's entry."""
        if not self.db_path.exists():
            return None
        folder, name = split(rel)
        row = self._db().execute("SELECT files FROM folders WHERE folder = ?", (folder,)).fetchone()
        return None if row is None else marshal.loads(row[0]).get(name)

    def update(self, records: Iterable[Record], keep: Mapping[str, set[str]] | None = None) -> None:
        """Merge `records` in; for each folder in `keep`, drop files not named there (they are
        gone from the workspace, so their entries could only go stale)."""
        changes: dict[str, dict[str, Entry]] = {}
        for rel, ino, mtime, size, oid in records:
            folder, name = split(rel)
            changes.setdefault(folder, {})[name] = (ino, mtime, size, oid)
        keep = keep or {}
        if not changes and not keep:
            return
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # read-merge-write of a folder must not interleave with another
        try:
            for folder in changes.keys() | keep.keys():
                row = db.execute("SELECT files FROM folders WHERE folder = ?", (folder,)).fetchone()
                files: dict[str, Entry] = {} if row is None else marshal.loads(row[0])
                files.update(changes.get(folder, {}))
                names = keep.get(folder)
                if names is not None:
                    files = {n: e for n, e in files.items() if n in names}
                if files:
                    db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (folder, marshal.dumps(files)))
                else:
                    db.execute("DELETE FROM folders WHERE folder = ?", (folder,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def record_file(self, rel: str, path: str | os.PathLike[str], oid: str) -> Record:
        st = os.stat(path)
        return (rel, st.st_ino, stamp(st), st.st_size, oid)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
