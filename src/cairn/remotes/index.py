"""What a remote holds, remembered locally in SQLite and refreshed with a few list requests
(pack indexes and large loose objects), never one request per object.

Besides where each object is, the index remembers the remote's generation it was refreshed at
(the remote changes its generation whenever cairn deletes from it) and which sets of roots were
complete on the remote at that generation: a push of the same roots with the generation
unchanged has nothing to do. Anything the index forgets also forgets those sets.

A copy a fetch found damaged stays listed (a later fetch tries it again and names it damaged
again) but no longer counts as held, so a push sends a good copy, whose location replaces it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

# Version 2 (issue 22): object ids as 32-byte blobs and packs by number, a third of version 1's
# size (64-hex text keys, the pack's 64-hex id on every row and in the pack index). A file of
# another version is a cache of the remote: its locations are dropped and listed again.
VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (oid BLOB PRIMARY KEY, pack INTEGER, off INTEGER, size INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, size INTEGER);
CREATE INDEX IF NOT EXISTS objects_pack ON objects (pack);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS complete (roots TEXT PRIMARY KEY, objects INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS damaged (oid TEXT PRIMARY KEY, pack TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recorded (key TEXT PRIMARY KEY, generation TEXT) WITHOUT ROWID;
"""
# what a refresh lists again; `recorded` (rows carry their own generation) and `damaged` (the
# same in both versions) are kept
_DERIVED = ("objects", "packs", "meta", "complete")
# fewer wanted ids than this are looked up one by one; more, and one scan of the table is cheaper
_LOOKUPS = 50_000
_IN = 500  # ids per lookup statement (SQLite's oldest bound on parameters is 999)
_OID = re.compile("[0-9a-f]{64}").fullmatch

Location = tuple[str | None, int, int]  # pack id (None: stored loose), offset, size


class RemoteIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # a million objects make a ~100 MB index: a 64 MB page cache keeps a push's inserts
        # from re-reading B-tree pages
        self.db.execute("PRAGMA cache_size = -65536")
        if self._version() != VERSION:
            with self._tx(immediate=True):  # one process upgrades; the others find it done
                version = self._version()
                if version != VERSION:
                    self._upgrade(version)

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _upgrade(self, version: int) -> None:
        """Version 0 (the first format, or a new file) and unknown versions: drop what a refresh
        lists again and make the tables of this version."""
        if version != 0 or self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'objects'").fetchone():
            for table in _DERIVED:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for stmt in _SCHEMA.strip().split(";\n"):
            self.db.execute(stmt)
        self.db.execute(f"PRAGMA user_version = {VERSION}")

    # -- generation and complete root sets ---------------------------------------------------
    def generation(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return row[0] if row else None

    def set_generation(self, generation: str | None) -> None:
        if generation is None:
            self.db.execute("DELETE FROM meta WHERE key = 'generation'")
        else:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (generation,))

    def complete(self, roots_key: str) -> int | None:
        """How many objects the root set `roots_key` reaches, if all of them were on the remote
        when it was recorded; None when unknown."""
        row = self.db.execute("SELECT objects FROM complete WHERE roots = ?", (roots_key,)).fetchone()
        return row[0] if row else None

    def set_complete(self, roots_key: str, objects: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO complete VALUES (?, ?)", (roots_key, objects))

    def recorded(self, key: str) -> bool:
        """Whether this clone wrote a root record `key` (roots and refs) at the current generation
        (a gc since may have forgotten it)."""
        row = self.db.execute("SELECT generation FROM recorded WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == self.generation()

    def set_recorded(self, key: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO recorded VALUES (?, ?)", (key, self.generation() or ""))

    # -- locations ---------------------------------------------------------------------------
    def packs(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, size FROM packs"))

    def _pack_number(self, pack_id: str, size: int) -> int:
        row = self.db.execute("SELECT n FROM packs WHERE id = ?", (pack_id,)).fetchone()
        if row is not None:
            self.db.execute("UPDATE packs SET size = ? WHERE n = ?", (size, row[0]))
            return row[0]
        return self.db.execute("INSERT INTO packs (id, size) VALUES (?, ?)", (pack_id, size)).lastrowid

    def add_pack(self, pack_id: str, size: int, rows: Iterable[tuple[str, int, int]]) -> None:
        self.add_sent([(pack_id, size, list(rows))], [])

    def add_sent(self, packs: list[tuple[str, int, list[tuple[str, int, int]]]], loose: list[tuple[str, int]]) -> None:
        """Record packs ((id, size, rows)) and loose objects ((oid, size)) in one transaction."""
        if not packs and not loose:
            return
        damaged = self.damaged()
        with self._tx():
            if not damaged and sum(len(rows) for _, _, rows in packs) >= self.BULK:
                self._add_packs_sorted(packs)
            else:
                for pack_id, size, rows in packs:
                    self._add_pack(pack_id, size, rows, damaged)
            for oid, size in loose:
                self._add_loose(oid, size)

    # rows at which a push's packs go into the table in one sorted insert
    BULK = 50_000

    def _add_packs_sorted(self, packs: list[tuple[str, int, list[tuple[str, int, int]]]]) -> None:
        """Many packs' rows at once, inserted in key order (SQLite sorts them in C): each page of
        the table's B-tree is then visited once, where pack after pack of random ids revisits
        pages all over a table that has outgrown the page cache. The first location of an
        object wins, as in `_add_pack`."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (oid BLOB, pack INTEGER, off INTEGER, size INTEGER)")
        self.db.execute("DELETE FROM incoming")
        for pack_id, size, rows in packs:
            n = self._pack_number(pack_id, size)
            self.db.executemany(
                "INSERT INTO incoming VALUES (?, ?, ?, ?)", ((bytes.fromhex(o), n, off, s) for o, off, s in rows)
            )
        self.db.execute("INSERT OR IGNORE INTO objects SELECT oid, pack, off, size FROM incoming ORDER BY oid, rowid")
        self.db.execute("DELETE FROM incoming")

    def _add_pack(self, pack_id: str, size: int, rows: list[tuple[str, int, int]], damaged: dict) -> None:
        n = self._pack_number(pack_id, size)
        # an object already known elsewhere keeps its first location: both copies are valid
        self.db.executemany(
            "INSERT OR IGNORE INTO objects VALUES (?, ?, ?, ?)",
            ((bytes.fromhex(o), n, off, s) for o, off, s in rows),
        )
        # ...unless that first copy is damaged: this one replaces it (the same pack listed
        # again, after an upgrade of this index, is the same damaged copy)
        fixed = [(o, off, s) for o, off, s in rows if o in damaged and damaged[o] != pack_id] if damaged else []
        if fixed:
            self.db.executemany(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                ((bytes.fromhex(o), n, off, s) for o, off, s in fixed),
            )
            self.db.executemany("DELETE FROM damaged WHERE oid = ?", ((r[0],) for r in fixed))

    def drop_packs(self, pack_ids: Iterable[str]) -> None:
        ids = [(p,) for p in pack_ids]
        if not ids:
            return
        with self._tx():
            self.db.executemany("DELETE FROM objects WHERE pack = (SELECT n FROM packs WHERE id = ?)", ids)
            self.db.executemany("DELETE FROM packs WHERE id = ?", ids)
            self.db.executemany("DELETE FROM damaged WHERE pack = ?", ids)
            self.db.execute("DELETE FROM complete")

    def set_loose(self, loose: dict[str, int]) -> None:
        """Replace the loose objects with what a listing found (names that are no object id,
        which someone else put there, are not objects)."""
        known = {r[0].hex() for r in self.db.execute("SELECT oid FROM objects WHERE pack IS NULL")}
        with self._tx():
            if known - set(loose):
                self.db.execute("DELETE FROM complete")
            self.db.execute("DELETE FROM objects WHERE pack IS NULL")
            self.db.executemany(
                "INSERT OR IGNORE INTO objects VALUES (?, NULL, 0, ?)",
                ((bytes.fromhex(o), n) for o, n in loose.items() if _OID(o)),
            )

    def add_loose(self, oid: str, size: int) -> None:
        with self._tx():
            self._add_loose(oid, size)

    def _add_loose(self, oid: str, size: int) -> None:
        if self.db.execute("DELETE FROM damaged WHERE oid = ?", (oid,)).rowcount:
            self.db.execute("INSERT OR REPLACE INTO objects VALUES (?, NULL, 0, ?)", (bytes.fromhex(oid), size))
        else:
            self.db.execute("INSERT OR IGNORE INTO objects VALUES (?, NULL, 0, ?)", (bytes.fromhex(oid), size))

    def mark_damaged(self, oids: Iterable[str]) -> None:
        """Copies a fetch found damaged: no longer held (a push sends good copies), still listed."""
        rows = [(o, bytes.fromhex(o)) for o in oids]
        if not rows:
            return
        with self._tx():
            self.db.executemany(
                "INSERT OR IGNORE INTO damaged SELECT ?, IFNULL(p.id, '') FROM objects o "
                "LEFT JOIN packs p ON p.n = o.pack WHERE o.oid = ?",
                rows,
            )
            self.db.execute("DELETE FROM complete")

    def restore_damaged(self, damaged: dict[str, str | None]) -> None:
        """Mark again the damaged copies of an earlier `damaged()` that are still where they were
        (after the index was read anew)."""
        rows = [(o, p or "", bytes.fromhex(o), p or "") for o, p in damaged.items()]
        if rows:
            with self._tx():
                self.db.executemany(
                    "INSERT OR IGNORE INTO damaged SELECT ?, ? FROM objects o LEFT JOIN packs p ON p.n = o.pack "
                    "WHERE o.oid = ? AND IFNULL(p.id, '') = ?",
                    rows,
                )

    def mark_good(self, oids: Iterable[str]) -> None:
        """Copies a fetch read intact after all (repaired in place)."""
        if not self._damaged():
            return
        with self._tx():
            self.db.executemany("DELETE FROM damaged WHERE oid = ?", ((o,) for o in oids))

    def damaged(self) -> dict[str, str | None]:
        """oid -> pack (None: loose) of the copies a fetch found damaged."""
        return {o: (p or None) for o, p in self.db.execute("SELECT oid, pack FROM damaged")}

    def _damaged(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT oid FROM damaged")}

    def forget(self, oids: Iterable[str]) -> None:
        """Objects the remote turned out not to hold intact (lost, or damaged): a push sends them
        again."""
        oids = list(oids)
        if not oids:
            return
        with self._tx():
            self.db.executemany("DELETE FROM objects WHERE oid = ?", ((bytes.fromhex(o),) for o in oids))
            self.db.executemany("DELETE FROM damaged WHERE oid = ?", ((o,) for o in oids))
            self.db.execute("DELETE FROM complete")

    def all_oids(self) -> set[str]:
        """Every object held intact, as far as this index knows."""
        held = {r[0].hex() for r in self.db.execute("SELECT oid FROM objects")}
        return held - self._damaged() if held else held

    def locate(self, oids: Iterable[str]) -> dict[str, Location]:
        wanted = set(oids)
        out: dict[str, Location] = {}
        if len(wanted) < 64:  # one object read from the remote (a tree, a chunk): by key
            sql = "SELECT p.id, o.off, o.size FROM objects o LEFT JOIN packs p ON p.n = o.pack WHERE o.oid = ?"
            for oid in wanted:
                row = self.db.execute(sql, (bytes.fromhex(oid),)).fetchone()
                if row is not None:
                    out[oid] = row
            return out
        # each pack's id made once, not one 64-character string per row (a fetch's batch of
        # 32k objects in a few hundred packs)
        ids: dict[int | None, str | None] = dict(self.db.execute("SELECT n, id FROM packs"))
        ids[None] = None
        if len(wanted) < _LOOKUPS:
            # many keys a statement: one call per id cost ~5 us of Python and SQLite each
            keys = [bytes.fromhex(o) for o in wanted]
            for i in range(0, len(keys), _IN):
                part = keys[i : i + _IN]
                sql = f"SELECT oid, pack, off, size FROM objects WHERE oid IN ({','.join('?' * len(part))})"
                for key, n, off, size in self.db.execute(sql, part):
                    out[key.hex()] = (ids.get(n), off, size)
            return out
        for key, n, off, size in self.db.execute("SELECT oid, pack, off, size FROM objects"):
            oid = key.hex()
            if oid in wanted:
                out[oid] = (ids.get(n), off, size)
        return out

    def pack_rows(self, pack_id: str) -> list[tuple[str, int, int]]:
        rows = self.db.execute(
            "SELECT o.oid, o.off, o.size FROM objects o JOIN packs p ON p.n = o.pack WHERE p.id = ?", (pack_id,)
        )
        return [(o.hex(), off, size) for o, off, size in rows]

    def clear(self) -> None:
        with self._tx():
            self.db.execute("DELETE FROM objects")
            self.db.execute("DELETE FROM packs")
            self.db.execute("DELETE FROM complete")
            self.db.execute("DELETE FROM damaged")
            self.db.execute("DELETE FROM meta")
            # `recorded` stays: its rows hold the generation they were written at, and a listing
            # at that same generation (push --verify) must not record the push again

    def _tx(self, immediate: bool = False):
        return _Tx(self.db, immediate)

    def close(self) -> None:
        self.db.close()


class _Tx:
    def __init__(self, db: sqlite3.Connection, immediate: bool) -> None:
        self.db = db
        self.immediate = immediate

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE" if self.immediate else "BEGIN")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
