"""Snapshots keep the stat cache in step with the workspace."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

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


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


class _StopAt:
    """An ignore rule set that fails on one path, stopping the walk with folders listed ahead."""

    def __init__(self, path: str) -> None:
        self.path = path

    def match(self, rel: str, is_dir: bool) -> bool:
        if rel == self.path:
            raise RuntimeError(f"stopped at {rel}")
        return False


def test_a_walk_leaves_no_folder_open_even_when_it_fails(tmp_path: Path) -> None:
    """Folders are listed by descriptor, some ahead of the walk on threads: every one is closed,
    also when the walk stops in the middle with others listed ahead."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    data = tmp_path / "data"
    for d in range(12):
        (data / f"d{d:02d}").mkdir(parents=True)
        (data / f"d{d:02d}" / "f").write_bytes(b"x")
        (data / f"d{d:02d}" / "link").symlink_to("f")  # a link inside: its target is stat-ed
    stats = StatCache(tmp_path / "stat.db")
    try:
        before = _open_fds()
        snap = snapshot(data, "data", stats)
        assert snap is not None and snap.files == 24 and _open_fds() == before
        with pytest.raises(RuntimeError, match="stopped at data/d03/f"):
            snapshot(data, "data", stats, ignore=_StopAt("data/d03/f"))  # type: ignore[arg-type]
        assert _open_fds() == before
    finally:
        stats.close()
