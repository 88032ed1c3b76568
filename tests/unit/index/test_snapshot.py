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


def test_an_unreadable_folder_stops_the_walk_with_folders_listed_ahead(tmp_path: Path, monkeypatch) -> None:
    """Whether a scanner thread or the walk lists it, an unreadable folder is the walk's
    PermissionDeniedError; the folders listed ahead are closed and no scanner thread is left."""
    import threading

    from cairn.errors import PermissionDeniedError
    from cairn.index import snapshot as snapshot_mod

    data = tmp_path / "data"
    for d in range(8):
        (data / f"d{d}").mkdir(parents=True)
        (data / f"d{d}" / "f").write_bytes(b"x")
    real_scan = snapshot_mod.scan

    def scan(path: str, cutoff: int | None):
        if path.endswith("d5"):  # as root, chmod 0 would not stop the listing
            raise PermissionError(13, "Permission denied", path)
        return real_scan(path, cutoff)

    monkeypatch.setattr(snapshot_mod, "scan", scan)
    stats = StatCache(tmp_path / "stat.db")
    threads = threading.active_count()
    before = _open_fds()
    try:
        with pytest.raises(PermissionDeniedError, match=r"cannot read .*d5"):
            snapshot(data, "data", stats)
        assert _open_fds() == before
        assert threading.active_count() == threads
    finally:
        stats.close()


def test_an_error_a_scanner_thread_meets_is_raised_where_its_folder_is_taken(tmp_path: Path, monkeypatch) -> None:
    import threading

    from cairn.index import snapshot as snapshot_mod

    (tmp_path / "bad").mkdir()
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "f").write_bytes(b"x")
    real_scan = snapshot_mod.scan
    met = threading.Event()

    def scan(path: str, cutoff: int | None):
        if path.endswith("bad"):
            met.set()  # the folder is a thread's now: take() waits for its outcome
            raise PermissionError(13, "Permission denied", path)
        return real_scan(path, cutoff)

    monkeypatch.setattr(snapshot_mod, "scan", scan)
    threads = threading.active_count()
    before = _open_fds()
    ahead = snapshot_mod._Ahead(None)
    try:
        ahead.submit([str(tmp_path / "bad"), str(tmp_path / "ok")])
        assert met.wait(10)
        with pytest.raises(PermissionError, match="bad"):
            ahead.take(str(tmp_path / "bad"))
    finally:
        ahead.close()  # "ok", listed ahead and never taken, is closed here
    assert _open_fds() == before
    assert threading.active_count() == threads


def test_folders_listed_ahead_or_by_the_walk_give_the_same_snapshot(tmp_path: Path) -> None:
    """A folder the walk reaches before a scanner thread took it is listed by the walk itself:
    with scanners slowed down (most folders listed by the walk) or not, the result is the same,
    and so is a second, sealed walk."""
    from cairn.index import snapshot as snapshot_mod

    data = tmp_path / "data"
    for d in range(10):
        for i in range(5):
            (data / f"d{d}").mkdir(parents=True, exist_ok=True)
            (data / f"d{d}" / f"f{i}").write_bytes(f"{d}/{i}".encode())
            _old(data / f"d{d}" / f"f{i}")
    time.sleep(0.05)  # their ctime out of the racy window, so the folders can be sealed
    stats = StatCache(tmp_path / "stat.db")
    real_scan = snapshot_mod.scan
    by_thread: list[str] = []
    by_walk: list[str] = []

    def slow_scan(path: str, cutoff: int | None):
        import threading

        if threading.current_thread() is not threading.main_thread():
            by_thread.append(path)
            time.sleep(0.02)
        else:
            by_walk.append(path)
        return real_scan(path, cutoff)

    try:
        plain = snapshot(data, "data", stats)
        assert plain is not None and plain.files == 50
        snapshot_mod.scan = slow_scan
        slowed = snapshot(data, "data", stats)
        assert slowed is not None and (slowed.oid, slowed.files) == (plain.oid, 50)
        # each folder listed once, by a thread or by the walk (which takes the ones no thread took)
        assert sorted(by_thread + by_walk) == sorted([str(data), *(str(data / f"d{d}") for d in range(10))])
        stats.update(plain.records, plain.keep, plain.seals)
        sealed = snapshot(data, "data", stats, have_tree=lambda oid: True)
        assert sealed is not None and (sealed.oid, sealed.hashed) == (plain.oid, 0) and sealed.reused
    finally:
        snapshot_mod.scan = real_scan
        stats.close()


def test_fresh_is_left_empty_when_not_asked_and_nothing_else_changes(tmp_path: Path) -> None:
    """An add in copy mode has no use for the (path, id) of every hashed file (only a link mode
    replaces them by links): without `fresh` the snapshot is the same but for that list."""
    data = tmp_path / "data"
    for rel in ("a", "sub/b", "sub/c", "sub/deeper/d"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(rel.encode())
        _old(data / rel)
    snaps = []
    for fresh in (True, False):
        stats = StatCache(tmp_path / f"stat-{fresh}.db")
        try:
            snap = snapshot(data, "data", stats, fresh=fresh)
        finally:
            stats.close()
        assert snap is not None and snap.hashed == 4
        snaps.append(snap)
    full, bare = snaps
    assert (full.oid, full.trees, full.records, full.files) == (bare.oid, bare.trees, bare.records, bare.files)
    assert sorted(r for r, _ in full.fresh) == ["data/a", "data/sub/b", "data/sub/c", "data/sub/deeper/d"]
    assert bare.fresh == []
    assert sorted(r[0] for r in full.records) == sorted(r for r, _ in full.fresh)  # none racy: all recorded


def test_store_tree_takes_the_trees_of_folders_whose_files_were_all_hashed(tmp_path: Path) -> None:
    """An add hands each tree whose files it stored to `store_tree` as the tree is made (a
    folder after its subfolders), instead of holding it; a folder with a file the stat cache
    vouched for (not hashed now) keeps its tree in `trees`, as do the folders above it."""
    data = tmp_path / "data"
    for rel in ("top", "a/x", "a/deep/y", "b/z", "b/w"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(rel.encode())
        _old(data / rel)
    stats = StatCache(tmp_path / "stat.db")
    try:
        held = snapshot(data, "data", stats)
        assert held is not None and not held.reused and len(held.trees) == 4  # data, a, a/deep, b
        given: list[str] = []
        streamed = snapshot(data, "data", stats, store_tree=lambda oid, raw: given.append(oid) or None)
        assert streamed is not None and streamed.oid == held.oid and streamed.records == held.records
        assert sorted(given) == sorted(held.trees) and streamed.trees == {} and streamed.reused == set(given)
        assert given.index(held.oid) == 3  # the top folder's last, after every folder below it

        stats.update(held.records, held.keep)  # every file is vouched for by the stat cache from now on
        for rel in ("b/z", "b/w"):
            (data / rel).write_bytes(b"changed " + rel.encode())
            _old(data / rel)
        given.clear()
        again = snapshot(data, "data", stats, store_tree=lambda oid, raw: given.append(oid) or None)
        assert again is not None and again.hashed == 2
        # b's files were all hashed now: its tree is given; a and a/deep (files vouched for by the
        # stat cache) and the top folder (above a) are held
        assert len(given) == 1 and given[0] not in again.trees and len(again.trees) == 3
    finally:
        stats.close()
