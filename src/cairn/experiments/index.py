"""A derived SQLite index of experiments (ref -> commit -> metadata), so `exp show` reads one
table instead of every commit. It is synced against the refs on every read and rebuilt from
them whenever it is missing or damaged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pygit2

from cairn.experiments.record import EXP_REFS, ExpInfo, parse_message
from cairn.scm.commits import refs_under
from cairn.scm.git import Git

_SCHEMA = "CREATE TABLE IF NOT EXISTS exps (ref TEXT PRIMARY KEY, sha TEXT, meta TEXT) WITHOUT ROWID"


class ExpIndex:
    def __init__(self, path: Path, git: Git) -> None:
        self.path = path
        self.git = git
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:
            self._delete()  # derived data: rebuild rather than fail
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _delete(self) -> None:
        for suffix in ("", "-wal", "-shm"):  # a stale WAL must not be replayed into the new file
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def all(self) -> list[ExpInfo]:
        """Every experiment, after bringing the index in line with the refs."""
        try:
            return self._sync()
        except (sqlite3.DatabaseError, ValueError, TypeError):
            # damaged pages, another schema, rows that no longer parse: the refs are the truth
            self.db.close()
            self._delete()
            self.db = self._open()
            return self._sync()

    def _sync(self) -> list[ExpInfo]:
        refs = dict(refs_under(self.git, EXP_REFS))
        known = {ref: (sha, meta) for ref, sha, meta in self.db.execute("SELECT ref, sha, meta FROM exps")}
        stale = [ref for ref in known if ref not in refs]
        fresh: list[tuple[str, str, str]] = []
        out: list[ExpInfo] = []
        for ref, sha in refs.items():
            row = known.get(ref)
            if row is not None and row[0] == sha:
                info = ExpInfo(**json.loads(row[1]))
            else:
                info = self._read(ref, sha)
                if info is None:
                    continue
                fresh.append((ref, sha, json.dumps(info.to_dict(), default=str)))
            out.append(info)
        if stale or fresh:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM exps WHERE ref = ?", [(r,) for r in stale])
            self.db.executemany("INSERT OR REPLACE INTO exps VALUES (?, ?, ?)", fresh)
            self.db.execute("COMMIT")
        return out

    def _read(self, ref: str, sha: str) -> ExpInfo | None:
        try:
            commit = self.git.repo[sha].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return parse_message(commit.message, sha, ref)

    def close(self) -> None:
        self.db.close()
