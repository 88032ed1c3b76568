"""The stat cache: (path, inode, (mtime_ns, ctime_ns), size) -> oid, so unchanged files are
never re-read.

Stored in SQLite as one row per folder whose value is the marshalled {name: (inode, stamp,
size, oid)} of its files: loading 20k files is 20 small blobs (~3 ms) instead of 20k rows
(~20 ms, most of a no-op `status`). Writes merge into the folders' rows in one transaction.

A folder holding only files can also be sealed: the BLAKE3 of its files' sorted (name, inode,
stamp, size, mode) rows, with the id, size and file count of its tree. A walk that finds the
same rows takes the tree's id from the seal and never looks at the folder's file entries: a
no-op status of a million files in a thousand folders loads a thousand seals instead of a
million entries (seconds and hundreds of MB). A seal vouches only for what it hashes, so it
needs no invalidation; a folder whose files change simply stops matching it.

Being a cache, it is written without fsync (`synchronous=OFF`, as git writes its index): every
command that wrote it paid four fsyncs of its WAL, its folder and the database, up to 0.13 s
in all where much had just been written (docs/decisions.md, "W55"). A kill cannot damage it (SQLite's WAL);
an OS crash or a power cut may. A damaged database (SQLite's "not a database" or "malformed",
a row whose checksum does not match) is removed and started afresh: the next walk hashes every
file once, as after `rm stat.db`. SQLite keeps no checksums of its own, and a crash that wrote
some pages of a checkpoint and not others can leave rows that read fine but mix two writes (a
stamp of one version, an id of another); each folder row and seal therefore carries a CRC-32 of
its folder's name and its values, so such a row is found and never trusted."""

from __future__ import annotations

import marshal
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, groupby
from pathlib import Path
from typing import TypeVar

# (mtime_ns, ctime_ns): when a file last changed, as `stamp` reads it
Stamp = tuple[int, int]
# (path, inode, stamp, size, oid): one file's row as callers build it
Record = tuple[str, int, Stamp, int, str]
# (inode, stamp, size, oid): one file as stored under its folder
Entry = tuple[int, Stamp, int, str]
# folder (repo-relative, "" for the root) -> name -> entry
Folders = dict[str, dict[str, Entry]]
# folder -> (fingerprint of its files' stat rows, tree id, size, files)
Seal = tuple[bytes, str, int, int]
T = TypeVar("T")

_VERSION = 5  # 1: one row per file; 2: mtime alone; 3: no seals; 4: no row checksums
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS folders (folder TEXT PRIMARY KEY, files BLOB) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS seals (folder TEXT PRIMARY KEY, fp BLOB, oid TEXT, size INTEGER, files INTEGER,"
    " ck INTEGER) WITHOUT ROWID",
    # The folders' names alone. A scan of `folders` for them read every row's blob with it (the
    # whole database: 25 MB and ~0.2 s at 200k files, on every walk); this index is a few pages.
    "CREATE INDEX IF NOT EXISTS folder_names ON folders (folder)",
)
_UNDER = "folder = ? OR (folder >= ? AND folder < ?)"  # a folder and all below ('0' sorts after '/')
# SQLite's primary result codes of a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB (a lock timeout
# or a full disk is an OperationalError with another code: never taken for damage)
_DAMAGE_CODES = (11, 26)
# what unmarshalling a damaged row raises
_BAD_ROW = (ValueError, EOFError, TypeError)


class _DamagedRow(Exception):
    """A row of the database whose checksum does not match, or that does not unmarshal."""


def _crc(folder: str, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(folder.encode("utf-8", "surrogatepass") + b"\0"))


def _marshal(folder: str, files: dict[str, Entry]) -> bytes:
    """A folder row's value: its files, marshalled, then the CRC-32 of the folder's name and them."""
    return _checked(folder, marshal.dumps(files))


def _checked(folder: str, data: bytes) -> bytes:
    return data + _crc(folder, data).to_bytes(4, "little")


def _unmarshal(folder: str, blob: bytes) -> dict[str, Entry]:
    data = blob[:-4]
    if len(blob) < 4 or _crc(folder, data) != int.from_bytes(blob[-4:], "little"):
        raise _DamagedRow
    try:
        return marshal.loads(data)
    except _BAD_ROW:
        raise _DamagedRow from None


# what reading or writing a damaged database can raise (_damaged tells damage from the rest)
_DAMAGE = (sqlite3.DatabaseError, _DamagedRow)


def _seal_crc(folder: str, fp: bytes, oid: str, size: int, files: int) -> int:
    # not marshal: its bytes depend on reference counts and interning, not only on the values
    return _crc(folder, b"%s\0%s\0%d\0%d" % (fp, oid.encode(), size, files))


def _checked_seal(folder: str, fp: bytes, oid: str, size: int, files: int, ck: int | None) -> Seal:
    if ck != _seal_crc(folder, fp, oid, size, files):
        raise _DamagedRow
    return (fp, oid, size, files)


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


class Rows:
    """New stat rows, folder by folder: each folder's {name: Entry} is marshalled as it is added,
    as the database stores it, and `update` writes it as it is where the folder had no row.
    ~120 bytes a file: as Record tuples (a path, three ints, a stamp tuple) rows took ~500, held
    from the walk to the end of an add (issue 22, the add of a million files). Iterating gives
    Records, folder by folder."""

    __slots__ = ("_count", "_folders")

    def __init__(self) -> None:
        self._folders: list[tuple[str, bytes]] = []
        self._count = 0

    def add(self, folder: str, files: dict[str, Entry]) -> None:
        """One folder's rows (a folder added twice is merged in that order)."""
        if files:
            self._folders.append((folder, marshal.dumps(files)))
            self._count += len(files)

    def append(self, record: Record) -> None:
        folder, name = split(record[0])
        self.add(folder, {name: record[1:]})

    def folders(self) -> Iterator[tuple[str, bytes]]:
        """(folder, its marshalled {name: Entry}) in the order added (an iterator, as `update`
        goes on with the rest after damage)."""
        return iter(self._folders)

    def __iter__(self) -> Iterator[Record]:
        for folder, data in self._folders:
            prefix = folder + "/" if folder else ""
            for name, (ino, st, size, oid) in marshal.loads(data).items():
                yield (prefix + name, ino, st, size, oid)

    def __len__(self) -> int:
        return self._count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rows):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class StatCache:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except _DAMAGE as e:
                if not _damaged(e):
                    raise
                self._reset()
                self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # a cache: no fsync (module docstring)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version in (3, 4):  # the same file rows: kept, checksummed (no re-hash after upgrading)
                _add_checksums(conn)
            elif version != _VERSION:
                # a cache, not data: an older layout is dropped and rebuilt by the next walk
                conn.execute("DROP TABLE IF EXISTS stat")
                conn.execute("DROP TABLE IF EXISTS folders")
                conn.execute("DROP TABLE IF EXISTS seals")
                conn.execute(f"PRAGMA user_version = {_VERSION}")
            for table in _SCHEMA:
                conn.execute(table)
        except BaseException:
            conn.close()
            raise
        return conn

    def _reset(self) -> None:
        """Remove a damaged database (its WAL and shared memory first: a stale WAL must never
        be replayed into the new file); the next use starts an empty one."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        for suffix in ("-wal", "-shm", ""):
            self.db_path.with_name(self.db_path.name + suffix).unlink(missing_ok=True)

    def _read(self, query: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """`query` on the database; `empty` when there is none, or when it is damaged (then
        removed: what it knew is hashed again)."""
        if not self.db_path.exists():
            return empty
        try:
            return query(self._db())
        except _DAMAGE as e:
            if not _damaged(e):
                raise
        self._reset()
        return empty

    def load(self, prefix: str) -> Folders:
        """The folder `prefix` and every folder below it, with their files."""

        def query(db: sqlite3.Connection) -> Folders:
            rows = db.execute(f"SELECT folder, files FROM folders WHERE {_UNDER}", _under(prefix))
            return {folder: _unmarshal(folder, blob) for folder, blob in rows}

        return self._read(query, {})

    def folders(self, prefix: str) -> set[str]:
        """The names of the folder `prefix` and every folder below it that have entries."""

        def query(db: sqlite3.Connection) -> set[str]:
            # one range the index answers alone (an OR of the two conditions made SQLite fetch the
            # rows to merge them): [prefix, prefix + "0") holds siblings such as "data-old" too
            rows = db.execute("SELECT folder FROM folders WHERE folder >= ? AND folder < ?", (prefix, prefix + "0"))
            below = prefix + "/"
            return {f for (f,) in rows if f == prefix or f.startswith(below)}

        return self._read(query, set())

    def files(self, folder: str) -> dict[str, Entry]:
        """One folder's files (a walk reads them only for folders whose seal does not match)."""

        def query(db: sqlite3.Connection) -> dict[str, Entry]:
            row = db.execute("SELECT files FROM folders WHERE folder = ?", (folder,)).fetchone()
            return {} if row is None else _unmarshal(folder, row[0])

        return self._read(query, {})

    def seals(self, prefix: str) -> dict[str, Seal]:
        """The seals of the folder `prefix` and every folder below it."""

        def query(db: sqlite3.Connection) -> dict[str, Seal]:
            rows = db.execute(f"SELECT folder, fp, oid, size, files, ck FROM seals WHERE {_UNDER}", _under(prefix))
            return {row[0]: _checked_seal(*row) for row in rows}

        return self._read(query, {})

    def entry(self, rel: str) -> Entry | None:
        """One file's entry."""
        folder, name = split(rel)

        def query(db: sqlite3.Connection) -> Entry | None:
            row = db.execute("SELECT files FROM folders WHERE folder = ?", (folder,)).fetchone()
            return None if row is None else _unmarshal(folder, row[0]).get(name)

        return self._read(query, None)

    def update(
        self,
        records: Iterable[Record] | Rows,
        keep: Mapping[str, set[str]] | None = None,
        seals: Mapping[str, Seal] | None = None,
    ) -> None:
        """Merge `records` in; for each folder in `keep`, drop files not named there (they are
        gone from the workspace, so their entries could only go stale); store `seals`.

        A walk's rows (Rows) are written folder by folder as they are. Other records grouped by
        folder (a generator is taken in that order): each group is merged and written before the
        next is read, so a million new rows never sit in memory twice. A list is grouped first."""
        keep = keep or {}
        pairs: Iterable[tuple[str, dict[str, Entry] | bytes]]
        if isinstance(records, Rows):
            if not records and not keep and not seals:
                return
            pairs = records.folders()
        else:
            if isinstance(records, list):
                # a list may come in any order (checkout writes files in its own order): one merge
                # per folder, not per file (a pull of 20k files spent 8 s in 19,000 merges)
                records = sorted(records, key=_folder_of)
            groups = groupby(records, key=_folder_of)
            first = next(groups, None)
            if first is None and not keep and not seals:
                return
            pairs = _changes(chain([first] if first else [], groups))
        current: list[tuple[str, dict[str, Entry] | bytes]] = []  # the folder being merged
        try:
            self._write(pairs, keep, seals, current)
            return
        except _DAMAGE as e:
            if not _damaged(e):
                raise
        # damaged: a new database gets the folder that found it and the rest (the folders
        # merged before are lost with the old one: hashed again by the next walk)
        self._reset()
        self._write(chain(current, pairs), keep, seals, [])

    def _write(
        self,
        pairs: Iterable[tuple[str, dict[str, Entry] | bytes]],
        keep: Mapping[str, set[str]],
        seals: Mapping[str, Seal] | None,
        current: list[tuple[str, dict[str, Entry] | bytes]],
    ) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # read-merge-write of a folder must not interleave with another
        try:
            done: set[str] = set()
            for folder, changes in pairs:
                current[:] = [(folder, changes)]
                self._merge(db, folder, changes, keep)
                done.add(folder)
            current.clear()
            for folder in keep.keys() - done:
                self._merge(db, folder, {}, keep)
            if seals:
                db.executemany(
                    "INSERT OR REPLACE INTO seals VALUES (?, ?, ?, ?, ?, ?)",
                    ((f, *s, _seal_crc(f, *s)) for f, s in seals.items()),
                )
            db.execute("COMMIT")
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # a damaged file may refuse it too: the first error is the one to report
            raise

    @staticmethod
    def _merge(
        db: sqlite3.Connection, folder: str, changes: dict[str, Entry] | bytes, keep: Mapping[str, set[str]]
    ) -> None:
        """`changes`: a folder's files, or (Rows) those marshalled."""
        row = db.execute("SELECT files FROM folders WHERE folder = ?", (folder,)).fetchone()
        names = keep.get(folder)
        if isinstance(changes, bytes):
            if row is None and names is None:  # a new folder (a first add): its rows as they are
                db.execute("INSERT INTO folders VALUES (?, ?)", (folder, _checked(folder, changes)))
                return
            changes = marshal.loads(changes)
        files: dict[str, Entry] = {} if row is None else _unmarshal(folder, row[0])
        files.update(changes)
        if names is not None:
            files = {n: e for n, e in files.items() if n in names}
        if files:
            db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (folder, _marshal(folder, files)))
        else:
            db.execute("DELETE FROM folders WHERE folder = ?", (folder,))
            db.execute("DELETE FROM seals WHERE folder = ?", (folder,))

    def record_file(self, rel: str, path: str | os.PathLike[str], oid: str) -> Record:
        st = os.stat(path)
        return (rel, st.st_ino, stamp(st), st.st_size, oid)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _changes(groups: Iterable[tuple[str, Iterable[Record]]]) -> Iterator[tuple[str, dict[str, Entry]]]:
    """(folder, {name: entry}) of each folder's group of records."""
    for folder, rows in groups:
        cut = len(folder) + 1 if folder else 0
        yield folder, {rel[cut:]: (ino, mtime, size, oid) for rel, ino, mtime, size, oid in rows}


def _add_checksums(conn: sqlite3.Connection) -> None:
    """Upgrade a version 3 or 4 database (written with fsync, so whole): its folder rows get
    their checksums; its seals are dropped, as the next walk writes them again from the rows."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DROP TABLE IF EXISTS seals")
        rows = conn.execute("SELECT folder, files FROM folders").fetchall()
        try:
            upgraded = [(_marshal(f, marshal.loads(blob)), f) for f, blob in rows]
        except _BAD_ROW:
            raise _DamagedRow from None
        conn.executemany("UPDATE folders SET files = ? WHERE folder = ?", upgraded)
        conn.execute(f"PRAGMA user_version = {_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the first error is the one to report
        raise


def _damaged(e: BaseException) -> bool:
    """Whether `e` (one of _DAMAGE) says the file is damaged, not locked, full or unreadable."""
    if isinstance(e, _DamagedRow):
        return True
    return ((getattr(e, "sqlite_errorcode", None) or 0) & 0xFF) in _DAMAGE_CODES


def _folder_of(record: Record) -> str:
    return record[0].rpartition("/")[0]


def _under(prefix: str) -> tuple[str, str, str]:
    return (prefix, prefix + "/", prefix + "0")
