"""The split walk: with `split_files`, helper processes check shares of the sealed folders of a
big tree. Forced here on a small tree (split_files=1), it must find exactly what the walk in one
process finds, and a helper that fails or dies must be a CairnError, not a hang."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from cairn.errors import HelperProcessError
from cairn.index import forked as forked_mod
from cairn.index import scan as scan_mod
from cairn.index import snapshot as snapshot_mod
from cairn.index.ignore import Ignore
from cairn.index.snapshot import Snapshot, snapshot
from cairn.index.statcache import StatCache

from .aged import write_aged
from .processes import reaped

REAL_OTHER_THREADS = forked_mod.other_threads  # before the `forks` fixture replaces it
FOLDERS = [f"d{i}" for i in range(8)]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for folder in FOLDERS:
        for i in range(15):
            write_aged(root / folder / f"f{i}", f"{folder}/{i}".encode() * (i + 1))
    for i in range(5):
        write_aged(root / "nested" / "inner" / f"g{i}", f"g{i}".encode())  # sealed below an unsealed folder
    write_aged(root / "top.txt", b"top")
    time.sleep(0.05)  # their ctime (set by utime) past the racy window
    return root


@pytest.fixture
def stats(tmp_path: Path):
    cache = StatCache(tmp_path / "stat.db")
    yield cache
    cache.close()


def _walk(data: Path, stats: StatCache, split_files: int, ignore: Ignore | None = None) -> Snapshot:
    snap = snapshot(data, "data", stats, ignore, have_tree=lambda oid: True, split_files=split_files)
    assert snap is not None
    return snap


def _seal(data: Path, stats: StatCache) -> Snapshot:
    first = _walk(data, stats, 0)
    stats.update(first.records, first.keep, first.seals)
    return first


def _same(split: Snapshot, serial: Snapshot) -> None:
    assert (split.kind, split.oid, split.size, split.files, split.hashed) == (
        serial.kind,
        serial.oid,
        serial.size,
        serial.files,
        serial.hashed,
    )
    assert split.trees == serial.trees
    assert split.reused == serial.reused
    assert sorted(split.records) == sorted(serial.records)
    assert sorted(split.fresh) == sorted(serial.fresh)
    assert split.keep == serial.keep
    assert split.seals == serial.seals
    assert split.pointers == serial.pointers


def _change(data: Path) -> None:
    """Every kind of change status must see, in folders the helpers check."""
    grown = data / "d1" / "f2"  # size and mtime changed
    grown.write_bytes(grown.read_bytes() + b"more")
    same = data / "d2" / "f3"  # same size, mtime differs
    same.write_bytes(bytes(b ^ 0xFF for b in same.read_bytes()))
    os.utime(same, ns=(time.time_ns() - 30_000_000_000,) * 2)
    write_aged(data / "d3" / "new", b"a new file")
    (data / "d4" / "f0").unlink()
    shutil.rmtree(data / "d5")  # a folder replaced: same names, other bytes
    for i in range(15):
        write_aged(data / "d5" / f"f{i}", f"other {i}".encode())
    shutil.rmtree(data / "d6")  # a folder replaced by a file of its name
    write_aged(data / "d6", b"now a file")
    shutil.rmtree(data / "d7")  # a folder gone
    write_aged(data / "nested" / "inner" / "g9", b"g9")
    time.sleep(0.05)


def test_a_split_walk_of_an_unchanged_tree_takes_every_folder_from_its_seal(
    data: Path, stats: StatCache, forks: list[int]
) -> None:
    _seal(data, stats)
    serial = _walk(data, stats, 0)
    assert forks == []
    split = _walk(data, stats, 1)
    assert len(forks) >= 1  # at least one helper took a share
    _same(split, serial)
    assert len(split.reused) == len(FOLDERS) + 1 and split.hashed == 0


def test_a_split_walk_finds_what_the_serial_walk_finds(data: Path, stats: StatCache, forks: list[int]) -> None:
    sealed = _seal(data, stats)
    _change(data)
    serial = _walk(data, stats, 0)
    split = _walk(data, stats, 1)
    assert forks
    _same(split, serial)
    assert split.oid != sealed.oid
    changed = {r for r, _ in split.fresh}
    assert {"data/d1/f2", "data/d2/f3", "data/d3/new", "data/d6", "data/nested/inner/g9"} <= changed
    assert {f"data/d5/f{i}" for i in range(15)} <= changed
    assert split.keep["data/d4"] == {f"f{i}" for i in range(1, 15)}  # the deleted file is forgotten
    assert "data/d7" in split.keep  # the folder that is gone too
    # the folders nobody touched still come from their seals
    assert sealed.seals["data/d0"][1] in split.reused


def test_a_small_tree_is_walked_in_one_process(data: Path, stats: StatCache, forks: list[int]) -> None:
    _seal(data, stats)
    _walk(data, stats, 10_000)  # 125 files sealed: under the threshold
    assert forks == []


@pytest.mark.parametrize(("load", "cores", "split"), [(0.3, 2, True), (1.9, 2, True), (2.0, 2, False), (0.1, 1, False)])
def test_a_smaller_tree_is_split_only_while_a_core_is_free(
    data: Path,
    stats: StatCache,
    forks: list[int],
    monkeypatch: pytest.MonkeyPatch,
    load: float,
    cores: int,
    split: bool,
) -> None:
    # bench W2/W3 (20k files) below core.walk_split_files: a helper only when it gets a core,
    # and without one no scanner threads either (they would only wait for the same core)
    sealed = _seal(data, stats)
    scanners: list[object] = []

    class Ahead(snapshot_mod._Ahead):
        def __init__(self, cutoff: int | None) -> None:
            scanners.append(self)
            super().__init__(cutoff)

    monkeypatch.setattr(snapshot_mod, "_Ahead", Ahead)
    monkeypatch.setattr(scan_mod, "IDLE_SPLIT_FILES", 100)  # the tree holds 125 sealed files
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    snap = _walk(data, stats, scan_mod.SPLIT_FILES)
    assert bool(forks) == split
    assert scanners == []
    assert snap.oid == sealed.oid and snap.hashed == 0
    monkeypatch.setattr(scan_mod, "IDLE_SPLIT_FILES", 200)  # more than the tree holds: as before
    forks.clear()
    _walk(data, stats, scan_mod.SPLIT_FILES)
    assert forks == []
    assert scanners  # threads list folders ahead


def test_a_walk_told_never_to_split_does_not_split_on_an_idle_machine(
    data: Path, stats: StatCache, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seal(data, stats)
    monkeypatch.setattr(scan_mod, "IDLE_SPLIT_FILES", 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    _walk(data, stats, 0)  # core.walk_split_files 0
    assert forks == []


def test_a_process_running_other_threads_walks_alone(
    data: Path, stats: StatCache, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library caller with threads of its own (the dashboard's server, say) is never forked."""
    import threading

    monkeypatch.setattr(forked_mod, "other_threads", REAL_OTHER_THREADS)
    _seal(data, stats)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        _same(_walk(data, stats, 1), _walk(data, stats, 0))
    finally:
        stop.set()
        other.join()
    assert forks == []


def test_ignore_rules_apply_in_the_helpers(data: Path, stats: StatCache, forks: list[int]) -> None:
    (data.parent / ".cairnignore").write_text("*.tmp\n")
    ignore = Ignore.load(data.parent)
    first = _walk(data, stats, 0, ignore)
    stats.update(first.records, first.keep, first.seals)
    write_aged(data / "d1" / "scratch.tmp", b"ignored")  # an ignored file does not break a seal
    (data / "d2" / "f1").write_bytes(b"changed")
    time.sleep(0.05)
    serial = _walk(data, stats, 0, ignore)
    split = _walk(data, stats, 1, ignore)
    assert forks
    _same(split, serial)
    assert first.seals["data/d1"][1] in split.reused
    assert [r for r, _ in split.fresh] == ["data/d2/f1"]


def test_a_helper_that_fails_is_a_cairn_error(
    data: Path, stats: StatCache, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    _seal(data, stats)

    def broken(arg):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scan_mod, "verify", broken)
    failed = r"a helper process of the walk \(pid \d+\) failed: RuntimeError: disk on fire"
    with pytest.raises(HelperProcessError, match=failed) as e:
        _walk(data, stats, 1)
    assert e.value.code == "helper-failed"
    assert "core.walk_split_files 0" in (e.value.hint or "")
    assert reaped(forks)


def test_a_helper_that_is_killed_is_a_cairn_error(
    data: Path, stats: StatCache, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    _seal(data, stats)
    monkeypatch.setattr(scan_mod, "verify", lambda arg: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(HelperProcessError, match=r"was killed by signal 9 \(SIGKILL\) before sending its result"):
        _walk(data, stats, 1)
    assert reaped(forks)


def test_a_helper_still_running_when_the_walk_fails_is_stopped(
    data: Path, stats: StatCache, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    _seal(data, stats)
    monkeypatch.setattr(scan_mod, "verify", lambda arg: time.sleep(600))

    def fail(*args):
        raise OSError("the walk itself failed")

    monkeypatch.setattr(snapshot_mod, "scan", fail)  # the parent's own walk, after the fork
    start = time.monotonic()
    with pytest.raises(OSError, match="the walk itself failed"):
        _walk(data, stats, 1)
    assert time.monotonic() - start < 30  # the sleeping helper was killed, not waited for
    assert reaped(forks)
