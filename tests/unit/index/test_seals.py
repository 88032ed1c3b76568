"""Folder seals: a folder of files whose stats match its seal is taken whole from the stat cache,
and any change to its files (content, a rename, a new or deleted file, the exec bit) breaks it."""

from __future__ import annotations

import marshal
import os
import sqlite3
import time
from pathlib import Path

import pytest

from cairn.index.snapshot import Snapshot, snapshot
from cairn.index.statcache import StatCache

from .aged import write_aged


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for folder in ("a", "b"):
        for i in range(20):
            write_aged(root / folder / f"f{i}", f"{folder}{i}".encode())
    write_aged(root / "top.txt", b"top")  # the root holds files and folders: never sealed itself
    time.sleep(0.05)  # their ctime (set by utime) past the racy window
    return root


def _snap(data: Path, stats: StatCache, have=lambda oid: True) -> Snapshot:
    snap = snapshot(data, "data", stats, have_tree=have)
    assert snap is not None
    stats.update(snap.records, snap.keep, snap.seals)
    return snap


def test_a_folder_of_files_is_taken_from_its_seal(data: Path, tmp_path: Path) -> None:
    stats = StatCache(tmp_path / "stat.db")
    try:
        first = _snap(data, stats)
        assert set(first.seals) == {"data/a", "data/b"} and not first.reused
        again = _snap(data, stats)
        assert (again.oid, again.size, again.files, again.hashed) == (first.oid, first.size, first.files, 0)
        assert again.reused == {first.seals["data/a"][1], first.seals["data/b"][1]}
        assert again.reused.isdisjoint(again.trees)  # only the root was encoded
        # a walk without `have_tree` (or whose trees left the cache) builds every tree as before
        plain = snapshot(data, "data", stats)
        assert plain is not None and plain.oid == first.oid and not plain.reused and len(plain.trees) == 3
        missing = _snap(data, stats, have=lambda oid: False)
        assert missing.oid == first.oid and not missing.reused and missing.hashed == 0
    finally:
        stats.close()


@pytest.mark.parametrize(
    "change",
    ["same size and mtime, new bytes", "new file", "deleted file", "renamed file", "exec bit"],
)
def test_any_change_to_a_sealed_folder_breaks_the_seal(data: Path, tmp_path: Path, change: str) -> None:
    stats = StatCache(tmp_path / "stat.db")
    try:
        first = _snap(data, stats)
        _snap(data, stats)
        target = data / "a" / "f3"
        if change == "same size and mtime, new bytes":
            st = target.stat()
            target.write_bytes(b"XX")  # "a3" -> "XX": same size
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
            time.sleep(0.05)  # its ctime past the racy window, so the new stats are sealed
        elif change == "new file":
            write_aged(data / "a" / "new", b"new")
            time.sleep(0.05)
        elif change == "deleted file":
            target.unlink()
        elif change == "renamed file":
            target.rename(data / "a" / "g3")
        else:
            target.chmod(0o755)
            time.sleep(0.05)
        changed = _snap(data, stats)
        assert changed.oid != first.oid
        assert first.seals["data/b"][1] in changed.reused  # the other folder still sealed
        assert first.seals["data/a"][1] not in changed.reused
        after = _snap(data, stats)  # sealed anew, with the new content
        assert after.oid == changed.oid and after.hashed == 0
    finally:
        stats.close()


def test_a_folder_changed_just_now_is_not_sealed(data: Path, tmp_path: Path) -> None:
    (data / "a" / "f0").write_bytes(b"fresh")  # inside the racy window
    stats = StatCache(tmp_path / "stat.db")
    try:
        snap = _snap(data, stats)
        assert set(snap.seals) == {"data/b"}
    finally:
        stats.close()


def test_the_file_rows_of_a_version_3_stat_cache_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "stat.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE folders (folder TEXT PRIMARY KEY, files BLOB) WITHOUT ROWID")
    row = {"f": (1, (2, 3), 4, "ab" * 32)}
    conn.execute("INSERT INTO folders VALUES (?, ?)", ("data", marshal.dumps(row)))
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    stats = StatCache(db)
    try:
        assert stats.files("data") == row and stats.seals("data") == {}
    finally:
        stats.close()
