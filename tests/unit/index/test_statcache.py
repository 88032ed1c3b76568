"""The stat cache: (path, inode, (mtime_ns, ctime_ns), size) -> oid in SQLite, one row per folder."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.index.statcache import Rows, StatCache

A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[StatCache]:
    sc = StatCache(tmp_path / "state" / "stat.db")
    yield sc
    sc.close()


def _flat(cache: StatCache, prefix: str) -> dict[str, tuple]:
    """What load(prefix) holds, as path -> (inode, mtime_ns, size, oid)."""
    folders = cache.load(prefix).items()
    return {f"{folder}/{name}" if folder else name: e for folder, files in folders for name, e in files.items()}


def _rows(*paths: str, oid: str = A) -> list[tuple[str, int, int, int, str]]:
    return [(p, i + 1, 1_000 + i, 10 + i, oid) for i, p in enumerate(paths)]


def test_load_without_a_database_creates_nothing(cache: StatCache) -> None:
    assert cache.load("data") == {}
    assert not cache.db_path.exists()


def test_load_returns_only_the_prefix(cache: StatCache) -> None:
    cache.update(
        _rows("data", "data/a", "data/sub/b", "data2", "data2/x", "data.csv", "data-old/y", "dat", "data0", "d/data/z")
    )
    assert set(_flat(cache, "data")) == {"data/a", "data/sub/b"}
    assert set(_flat(cache, "data2")) == {"data2/x"}
    assert set(_flat(cache, "data/sub")) == {"data/sub/b"}
    assert set(_flat(cache, "d")) == {"d/data/z"}
    assert cache.load("nothing") == {}


def test_load_returns_the_records(cache: StatCache) -> None:
    cache.update([("data/a", 7, 123_456_789_012_345_678, 42, B)])
    assert _flat(cache, "data") == {"data/a": (7, 123_456_789_012_345_678, 42, B)}
    assert cache.entry("data/a") == (7, 123_456_789_012_345_678, 42, B)
    assert cache.entry("data/b") is None
    assert cache.entry("elsewhere/a") is None


def test_non_ascii_paths_below_the_prefix(cache: StatCache) -> None:
    cache.update(_rows("data/é", "data/日本/x", "data\u00e9", "datä"))
    assert set(_flat(cache, "data")) == {"data/é", "data/日本/x"}


def test_update_replaces_existing_records(cache: StatCache) -> None:
    cache.update([("data/a", 1, 1, 1, A), ("data/b", 2, 2, 2, B)])
    cache.update([("data/a", 9, 9, 9, C)])
    assert _flat(cache, "data") == {"data/a": (9, 9, 9, C), "data/b": (2, 2, 2, B)}


def test_a_list_in_any_order_is_merged_once_per_folder(cache: StatCache, monkeypatch) -> None:
    """Checkout and pull hand over the files they wrote in the order they finished; each
    folder's row must still be read and rewritten once, not once per file (8 s for 20k files)."""
    paths = [f"data/d{i % 3}/f{i}" for i in range(30)]  # d0, d1, d2, d0, d1, ... interleaved
    merged: list[str] = []
    merge = StatCache._merge
    monkeypatch.setattr(
        StatCache, "_merge", staticmethod(lambda db, folder, *a: (merged.append(folder), merge(db, folder, *a)))
    )
    cache.update(_rows(*paths))
    assert sorted(merged) == ["data/d0", "data/d1", "data/d2"]
    assert set(_flat(cache, "data")) == set(paths)


def test_update_with_nothing_is_a_no_op(cache: StatCache) -> None:
    cache.update([])
    cache.update(iter([]))
    assert not cache.db_path.exists()


def test_update_accepts_an_iterator(cache: StatCache) -> None:
    cache.update(iter(_rows("data/a", "data/b")))
    assert set(_flat(cache, "data")) == {"data/a", "data/b"}


def _as_rows(records: list[tuple[str, int, int, int, str]]) -> Rows:
    """The records as a walk hands them over: one marshalled group per folder (in order)."""
    rows = Rows()
    for rec in records:
        rows.append(rec)
    return rows


def _everything(cache: StatCache) -> dict[str, tuple]:
    return {**_flat(cache, ""), **_flat(cache, "data"), **_flat(cache, "other")}


def test_rows_give_back_their_records_and_are_stored_as_records_are(tmp_path: Path) -> None:
    """A walk's Rows (each folder marshalled as it is walked) write the database a list of the
    same records writes: into new rows, merged into existing ones, with `keep`, and a folder
    given twice merged in order; each row passes its checksum when read back."""
    change = [("data/b", 9, 9, 9, C), ("data/new", 5, 5, 5, B), ("data/sub2/y", 1, 2, 3, A), ("data/b", 8, 8, 8, A)]
    keep = {"data": {"a", "b", "new"}}
    rows = _as_rows(change)
    assert list(rows) == change and len(rows) == 4 and rows == _as_rows(change) and rows != _as_rows(change[:3])
    results = []
    for name, records in (("list", change), ("rows", rows)):
        sc = StatCache(tmp_path / name / "stat.db")
        try:
            sc.update(_rows("data/a", "data/b", "data/sub/c", "other/x", "top"))
            sc.update(records, keep=keep)
            results.append(_everything(sc))
        finally:
            sc.close()
        again = StatCache(tmp_path / name / "stat.db")
        try:
            assert _everything(again) == results[-1]  # read back by a new instance: checksums hold
        finally:
            again.close()
    assert results[0] == results[1]
    assert set(results[1]) == {"data/a", "data/b", "data/new", "data/sub/c", "data/sub2/y", "other/x", "top"}
    assert results[1]["data/b"] == (8, 8, 8, A)  # the later of the two


def test_rows_into_an_empty_database(cache: StatCache) -> None:
    cache.update(_as_rows(_rows("data/a", "data/sub/b", "c")))
    assert _everything(cache) == {"data/a": (1, 1_000, 10, A), "data/sub/b": (2, 1_001, 11, A), "c": (3, 1_002, 12, A)}
    cache.update(Rows())  # nothing: no write, no error
    assert cache.entry("data/sub/b") == (2, 1_001, 11, A)


def test_records_persist_across_instances(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    first = StatCache(db)
    first.update(_rows("data/a", "data/b"))
    first.close()
    second = StatCache(db)
    try:
        assert set(_flat(second, "data")) == {"data/a", "data/b"}
    finally:
        second.close()


def test_two_open_instances_see_each_others_writes(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    one, two = StatCache(db), StatCache(db)
    try:
        one.update(_rows("data/a"))
        two.update(_rows("data/b", oid=B))
        assert set(_flat(one, "data")) == {"data/a", "data/b"}
        assert two.entry("data/a")[3] == A
    finally:
        one.close()
        two.close()


def test_failed_update_is_rolled_back(cache: StatCache) -> None:
    cache.update(_rows("data/a"))
    with pytest.raises(Exception):  # noqa: B017 - sqlite3 raises its own error types
        cache.update([("data/b", 1, 1, 1, A), ("data/c", 1, 1)])  # type: ignore[list-item]
    assert set(_flat(cache, "data")) == {"data/a"}
    cache.update(_rows("data/d"))  # the connection is usable afterwards
    assert set(_flat(cache, "data")) == {"data/a", "data/d"}


def test_keep_drops_files_that_are_gone(cache: StatCache) -> None:
    cache.update(_rows("data/a", "data/b", "data/sub/c", "other/x"))
    cache.update(_rows("data/d"), keep={"data": {"a", "d"}, "data/sub": set()})
    assert set(_flat(cache, "data")) == {"data/a", "data/d"}
    assert "data/sub" not in cache.load("data")  # an emptied folder leaves no row
    assert set(_flat(cache, "other")) == {"other/x"}


def test_a_version_1_database_is_replaced(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "stat.db"
    old = sqlite3.connect(db)
    old.execute("CREATE TABLE stat (path TEXT PRIMARY KEY, ino INTEGER, mtime_ns INTEGER, size INTEGER, oid TEXT)")
    old.execute("INSERT INTO stat VALUES ('data/a', 1, 1, 1, ?)", (A,))
    old.commit()
    old.close()
    sc = StatCache(db)
    try:
        assert sc.load("data") == {}
        sc.update(_rows("data/b"))
        assert set(_flat(sc, "data")) == {"data/b"}
    finally:
        sc.close()


def test_record_file(cache: StatCache, tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"12345")
    st_ = f.stat()
    assert cache.record_file("data/f.bin", f, A) == ("data/f.bin", st_.st_ino, (st_.st_mtime_ns, st_.st_ctime_ns), 5, A)


def test_close_twice(cache: StatCache) -> None:
    cache.update(_rows("x"))
    cache.close()
    cache.close()
    assert cache.entry("x") == _rows("x")[0][1:]  # reopens on demand


segment = st.text("ab./-0_é", min_size=1, max_size=4)
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)


@settings(max_examples=60, deadline=None)
@given(st.sets(paths, max_size=25), segment)
def test_load_prefix_property(stored: set[str], prefix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        sc = StatCache(Path(d) / "stat.db")
        try:
            sc.update(_rows(*sorted(stored)))
            expected = {p for p in stored if p.startswith(prefix + "/")}
            assert set(_flat(sc, prefix)) == expected
        finally:
            sc.close()


def test_folders_under_a_path_leave_its_siblings_out(tmp_path: Path) -> None:
    stats = StatCache(tmp_path / "stat.db")
    try:
        names = ["data", "data/a", "data/a/b", "data-old", "data.v2", "dat", "datb", "other/data"]
        stats.update([(f"{folder}/f", 1, (2, 3), 4, "ab" * 32) for folder in names])
        assert stats.folders("data") == {"data", "data/a", "data/a/b"}
        assert stats.folders("data/a") == {"data/a", "data/a/b"}
        assert stats.folders("data-old") == {"data-old"}
        indexes = sqlite3.connect(tmp_path / "stat.db").execute("PRAGMA index_list(folders)").fetchall()
        assert "folder_names" in {row[1] for row in indexes}  # the names are read from it, not the rows
    finally:
        stats.close()


# -- a damaged database (written without fsync: an OS crash may leave it so) ------------------


def _filled(db: Path) -> None:
    """A database of several pages: folders with enough files to spill over a few."""
    sc = StatCache(db)
    sc.update([(f"d{k}/f{i:04d}", i + 1, (1_000 + i, 2_000 + i), 10, A) for k in range(4) for i in range(200)])
    sc.close()
    assert not db.with_name(db.name + "-wal").exists()  # all in the file itself
    assert db.stat().st_size > 8 * 4096


def _damage(db: Path, how: str) -> None:
    data = bytearray(db.read_bytes())
    if how == "header":
        data[:16] = b"not a database!!"
    else:  # every page but the first (the header and the schema): rows and indexes
        data[4096:] = b"\x5a" * (len(data) - 4096)
    db.write_bytes(data)


@pytest.mark.parametrize("how", ["header", "pages"])
def test_a_damaged_database_is_removed_and_started_afresh(tmp_path: Path, how: str) -> None:
    db = tmp_path / "state" / "stat.db"
    _filled(db)
    _damage(db, how)
    sc = StatCache(db)
    try:
        with closing(sqlite3.connect(db)) as raw, pytest.raises(sqlite3.DatabaseError):
            raw.execute("SELECT count(*) FROM folders").fetchone()  # what SQLite says of the file
        # reads see an empty cache (every file is hashed again); the damaged file is gone
        assert sc.seals("d0") == {}
        assert sc.load("d0") == {}
        assert sc.entry("d1/f0001") is None
        if db.exists():  # a new, empty one
            with closing(sqlite3.connect(db)) as raw:
                assert raw.execute("PRAGMA quick_check").fetchone()[0] == "ok"
                assert raw.execute("SELECT count(*) FROM folders").fetchone()[0] == 0
        sc.update(_rows("d0/new"))
        assert set(_flat(sc, "d0")) == {"d0/new"}
    finally:
        sc.close()
    again = StatCache(db)
    try:
        assert set(_flat(again, "d0")) == {"d0/new"}
        assert again.entry("d0/new") == _rows("d0/new")[0][1:]
    finally:
        again.close()


@pytest.mark.parametrize("as_walk", [False, True], ids=["records", "a-walks-rows"])
def test_damage_found_while_updating_is_written_into_a_new_database(tmp_path: Path, as_walk: bool) -> None:
    """The merge reads each folder's row first: the damage shows there, mid-update; records
    and a walk's marshalled rows alike."""
    db = tmp_path / "state" / "stat.db"
    _filled(db)
    _damage(db, "pages")
    sc = StatCache(db)
    try:
        records = _rows("d0/a", "d1/b", "d2/c")
        sc.update(_as_rows(records) if as_walk else records, keep={"d3": set()})
        assert {*_flat(sc, "d0"), *_flat(sc, "d1"), *_flat(sc, "d2")} == {"d0/a", "d1/b", "d2/c"}
    finally:
        sc.close()


def test_a_row_that_does_not_unmarshal_is_damage(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    try:
        sc.update(_rows("data/a", "other/b"))
        sc._db().execute("UPDATE folders SET files = ? WHERE folder = 'data'", (b"\xff\x00 not marshal",))
        assert sc.entry("data/a") is None
        assert sc.entry("other/b") is None  # the whole database went: one damaged row is enough
        sc.update(_rows("data/c"))
        assert set(_flat(sc, "data")) == {"data/c"}
    finally:
        sc.close()


def test_an_error_that_is_not_damage_keeps_the_database(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    sc, other = StatCache(db), sqlite3.connect(db, isolation_level=None)
    try:
        sc.update(_rows("data/a"))
        sc._db().execute("PRAGMA busy_timeout = 50")
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock: "database is locked"
        with pytest.raises(sqlite3.OperationalError):
            sc.update(_rows("data/b"))
        other.execute("ROLLBACK")
        assert set(_flat(sc, "data")) == {"data/a"}
    finally:
        other.close()
        sc.close()


def test_the_cache_is_written_without_fsync(cache: StatCache) -> None:
    cache.update(_rows("x"))
    assert cache._db().execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    assert cache._db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_torn_row_that_unmarshals_is_not_trusted(tmp_path: Path) -> None:
    """What a crash can leave without fsync: a row that reads fine but mixes two writes, or a
    row under another folder's name. Its checksum tells; the database is started afresh."""
    import marshal

    db = tmp_path / "stat.db"
    sc = StatCache(db)
    try:
        sc.update(_rows("data/a", "other/b"))
        blob = sc._db().execute("SELECT files FROM folders WHERE folder = 'data'").fetchone()[0]
        files = marshal.loads(blob[:-4])
        files["a"] = (files["a"][0], files["a"][1], files["a"][2], B)  # the id of another version
        torn = marshal.dumps(files) + blob[-4:]  # the old checksum
        sc._db().execute("UPDATE folders SET files = ? WHERE folder = 'data'", (torn,))
        assert sc.entry("data/a") is None
        assert sc.entry("other/b") is None
        sc.update(_rows("data/a", "other/b"))
        # a whole row moved under another folder's name
        other = sc._db().execute("SELECT files FROM folders WHERE folder = 'other'").fetchone()[0]
        sc._db().execute("UPDATE folders SET files = ? WHERE folder = 'data'", (other,))
        assert sc.load("data") == {}
    finally:
        sc.close()


def test_a_torn_seal_is_not_trusted(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    try:
        sc.update(_rows("d/a"), seals={"d": (b"fp" * 16, A, 10, 1)})
        assert sc.seals("d") == {"d": (b"fp" * 16, A, 10, 1)}
        sc._db().execute("UPDATE seals SET oid = ? WHERE folder = 'd'", (B,))  # the checksum left as it was
        assert sc.seals("d") == {}
        assert sc.entry("d/a") is None  # the database went with it
    finally:
        sc.close()


def test_a_version_4_database_keeps_its_rows_and_gets_checksums(tmp_path: Path) -> None:
    """An upgrade hashes nothing again: the rows written by the cairn before stay, checksummed;
    the seals go (the next walk seals the folders again from the rows)."""
    import marshal

    db = tmp_path / "stat.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as old:
        old.execute("CREATE TABLE folders (folder TEXT PRIMARY KEY, files BLOB) WITHOUT ROWID")
        old.execute(
            "CREATE TABLE seals (folder TEXT PRIMARY KEY, fp BLOB, oid TEXT, size INTEGER, files INTEGER) WITHOUT ROWID"
        )
        old.execute("INSERT INTO folders VALUES ('data', ?)", (marshal.dumps({"a": (1, (5, 6), 10, A)}),))
        old.execute("INSERT INTO seals VALUES ('data', ?, ?, 10, 1)", (b"fp", C))
        old.execute("PRAGMA user_version = 4")
    sc = StatCache(db)
    try:
        assert sc.entry("data/a") == (1, (5, 6), 10, A)
        assert sc.seals("data") == {}
        sc.update([], seals={"data": (b"fp", C, 10, 1)})
        assert sc.seals("data") == {"data": (b"fp", C, 10, 1)}
    finally:
        sc.close()
    with closing(sqlite3.connect(db)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
