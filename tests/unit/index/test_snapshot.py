"""Snapshots keep the stat cache in step with the workspace."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cairn.index.snapshot import snapshot
from cairn.index.statcache import StatCache


def _old(path: Path) -> None:
    # older than the racy window, so the stat cache may trust the file
    past = time.time() - 60
    os.utime(path, (past, past))


def test_files_and_folders_that_are_gone_leave_the_stat_cache(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for rel in ("a", "b", "sub/c"):
        (data / rel).write_bytes(rel.encode())
        _old(data / rel)
    stats = StatCache(tmp_path / "stat.db")
    try:
        first = snapshot(data, "data", stats)
        assert first is not None and first.hashed == 3
        stats.update(first.records, first.keep)
        assert {f: set(files) for f, files in stats.load("data").items()} == {"data": {"a", "b"}, "data/sub": {"c"}}

        (data / "b").unlink()
        (data / "sub" / "c").unlink()
        (data / "sub").rmdir()
        second = snapshot(data, "data", stats)
        assert second is not None and second.hashed == 0
        stats.update(second.records, second.keep)
        assert {f: set(files) for f, files in stats.load("data").items()} == {"data": {"a"}}
    finally:
        stats.close()


def test_an_unchanged_tree_is_not_read_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(300):
        (data / f"f{i}").write_bytes(str(i).encode())
        _old(data / f"f{i}")
    stats = StatCache(tmp_path / "stat.db")
    try:
        first = snapshot(data, "data", stats)
        assert first is not None
        stats.update(first.records, first.keep)
        again = snapshot(data, "data", stats)
        assert again is not None and (again.oid, again.hashed, again.files) == (first.oid, 0, 300)
    finally:
        stats.close()
