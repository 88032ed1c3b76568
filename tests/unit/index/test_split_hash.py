"""The split add: with `hash_split_files`, helper processes hash and store shares of the files an
add found new, each into local packs of its own, which the adding process registers. Forced here
on small trees (hash_split_files=1) with a real object store, it must store exactly what one
process stores, and a helper that fails or dies must be a clear error that registers nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import DiskFullError, HelperProcessError
from cairn.index import forked as forked_mod
from cairn.index import hashpending
from cairn.index.hashpending import deal
from cairn.index.snapshot import Snapshot, snapshot
from cairn.index.statcache import StatCache
from cairn.objects import midx
from cairn.objects.hashing import SMALL_FILE
from cairn.objects.store import ObjectStore
from cairn.progress import NULL

from .aged import write_aged
from .processes import reaped

REAL_OTHER_THREADS = forked_mod.other_threads  # before the `forks` fixture replaces it
PACK = 8 * 1024  # tiny packs: every process seals several


def write_files(root: Path, count: int, seed: int, size: int | None = None) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {}
    for i in range(count):
        data = rng.randbytes(size if size is not None else rng.randint(0, 9000))
        path = root / f"d{i % 7}" / f"f{i:04d}.bin"
        write_aged(path, data)
        files[f"d{i % 7}/f{i:04d}.bin"] = data
    return files


def add(tmp_path: Path, data: Path, name: str, split: int, hash_fn=None) -> tuple[Snapshot, ObjectStore]:
    """What `cairn add` (copy mode) does with the snapshot: files packed, trees after the packs."""
    store = ObjectStore(tmp_path / name, pack_target=PACK)
    stats = StatCache(tmp_path / f"{name}.db")
    try:
        with store.packing():
            snap = snapshot(
                data, "data", stats, hash_fn=hash_fn or store.add_file_copy, hash_split_files=split, shares=store
            )
        assert snap is not None
        for oid, raw in snap.trees.items():
            store.add_bytes(raw, oid)
    finally:
        stats.close()
    return snap, store


def same(a: Snapshot, b: Snapshot) -> None:
    assert (a.kind, a.oid, a.size, a.files, a.hashed) == (b.kind, b.oid, b.size, b.files, b.hashed)
    assert a.trees == b.trees
    assert a.fresh == b.fresh  # in walk order, ids included
    assert a.records == b.records


def assert_sound(root: Path, files: dict[str, bytes]) -> None:
    """A store opened afresh finds every file through a current multi-pack index, each packed
    object matches its id, and every index has its pack (a pack without one, left by a killed
    writer, is never read: gc removes it)."""
    packs = root / "packs"
    on_disk = {p.stem for p in packs.glob("*.idx")}
    assert on_disk <= {p.stem for p in packs.glob("*.pack")}
    assert set(midx.Midx(str(packs / midx.NAME)).packs) == on_disk  # the index covers them all
    store = ObjectStore(root)
    assert isinstance(store.packs._index(), midx.Midx)  # current: not rebuilt from the JSON indexes
    for data in files.values():
        assert store.read_verified(blake3(data).hexdigest()) == data
    assert all(store.verify(oid) for oid in store.iter_packed())


def test_a_split_add_stores_what_one_process_stores(tmp_path: Path, forks: list[int]) -> None:
    data = tmp_path / "data"
    files = write_files(data, 400, 1)
    big = random.Random(2).randbytes(3 * 1024 * 1024)  # above the packed size: a loose object
    write_aged(data / "d1" / "big.bin", big)
    files["d1/big.bin"] = big
    serial, one = add(tmp_path, data, "serial", 0)
    assert forks == []
    split, many = add(tmp_path, data, "split", 1)
    assert len(forks) == min(4, len(os.sched_getaffinity(0))) - 1
    same(split, serial)
    assert sorted(many.iter_packed()) == sorted(one.iter_packed())
    assert sorted(many.iter_oids()) == sorted(one.iter_oids())  # the big file and the trees
    assert_sound(tmp_path / "split", files)


def test_the_bar_moves_with_the_helpers_shares_as_they_go(tmp_path: Path, forks: list[int]) -> None:
    """The helpers count their files in memory shared with the adding process, so its bar moves
    while they work, instead of jumping by a whole share when each sends its result: here the
    bar going past the parent's own files lets the helpers speed up, which they must see before
    they finish."""
    data = tmp_path / "data"
    write_files(data, 2000, 12)
    parent = os.getpid()
    go = tmp_path / "go"
    own: list[str] = []

    def hash_fn(path: str, size: int) -> str:
        if os.getpid() == parent:
            own.append(path)
        elif go.exists():
            (tmp_path / f"after-{os.getpid()}").touch()
        else:
            time.sleep(0.005)
        return blake3(Path(path).read_bytes()).hexdigest()

    class Bar:
        total = 0

        def advance(self, n: int = 1, nbytes: int = 0) -> None:
            self.total += n
            if self.total > len(own):  # files of the helpers', counted before their results
                go.touch()

        def add_total(self, n: int, nbytes: int = 0) -> None:
            pass

        def close(self) -> None:
            pass

    bar = Bar()

    class Progress:
        def task(self, description: str, *args: object, **kwargs: object):
            return bar if description.startswith("hashing") else NULL.task(description)

        def notice(self, message: str) -> None:
            pass

    store = ObjectStore(tmp_path / "store", pack_target=64 * 1024)
    stats = StatCache(tmp_path / "store.db")
    try:
        with store.packing():
            snap = snapshot(data, "data", stats, hash_fn=hash_fn, progress=Progress(), hash_split_files=1, shares=store)
    finally:
        stats.close()
    assert snap is not None and forks, "the add did not split"
    assert bar.total == snap.hashed == 2000
    assert list(tmp_path.glob("after-*")), "the bar took in the helpers' files only with their results"


def test_a_small_add_is_hashed_in_one_process(tmp_path: Path, forks: list[int]) -> None:
    data = tmp_path / "data"
    write_files(data, 50, 3)
    add(tmp_path, data, "store", 51)
    assert forks == []


def test_identical_files_in_two_shares_are_harmless(tmp_path: Path, forks: list[int]) -> None:
    """Files of one size all: spread over the shares, so one content is stored by two processes
    (a copy in two packs). The add, the index and a later gc's plan still see one object."""
    data = tmp_path / "data"
    rng = random.Random(4)
    contents = [rng.randbytes(1000) for _ in range(3)]
    files = {}
    for i in range(300):
        files[f"d{i % 5}/f{i}"] = contents[i % 3]
        write_aged(data / f"d{i % 5}" / f"f{i}", contents[i % 3])
    serial, _ = add(tmp_path, data, "serial", 0)
    split, _ = add(tmp_path, data, "split", 1)
    assert forks
    same(split, serial)
    assert_sound(tmp_path / "split", files)
    fresh = ObjectStore(tmp_path / "split")
    ids = {blake3(c).hexdigest() for c in contents}
    held = [oid for _, oid, _, _ in fresh.packs.listing()]
    assert set(held) == ids  # the index lists each once at least, nothing else
    # gc's rewrite of every pack without one of them keeps the others readable
    gone = sorted(ids)[0]
    fresh.drop_packed({gone})
    assert ObjectStore(tmp_path / "split").missing(ids) == [gone]


def test_a_size_stays_in_one_share_unless_it_would_unbalance_them() -> None:
    rng = random.Random(5)
    sizes = [rng.randint(512, 8192) for _ in range(20_000)]
    parts = deal(sizes, 2)
    assert sorted(i for p in parts for i in p) == list(range(len(sizes)))
    assert all(p == sorted(p) for p in parts)
    assert not {sizes[i] for i in parts[0]} & {sizes[i] for i in parts[1]}
    work = [sum(sizes[i] + hashpending._PER_FILE for i in p) for p in parts]
    assert max(work) / min(work) < 1.02
    same = deal([4096] * 1000 + [10, 20], 3)  # one size is all of the work: spread
    assert sum(map(len, same)) == 1002 and max(map(len, same)) - min(map(len, same)) <= 2


def test_a_helper_killed_midway_is_a_clear_error_and_a_rerun_completes(tmp_path: Path, forks: list[int]) -> None:
    data = tmp_path / "data"
    files = write_files(data, 400, 6)
    parent = os.getpid()
    store = ObjectStore(tmp_path / "store", pack_target=PACK)
    stored = 0

    def dying(path: str, size: int) -> str:
        nonlocal stored
        stored += 1
        if os.getpid() != parent and stored >= 100:  # a helper, some packs sealed
            os.kill(os.getpid(), signal.SIGKILL)
        return store.add_file_copy(path, size)

    stats = StatCache(tmp_path / "stats.db")
    failed = r"a helper process hashing files \(pid \d+\) was killed by signal 9 \(SIGKILL\) before sending its result"
    with pytest.raises(HelperProcessError, match=failed) as e, store.packing():
        snapshot(data, "data", stats, hash_fn=dying, hash_split_files=1, shares=store)
    stats.close()
    assert e.value.code == "helper-failed"
    assert "core.hash_split_files 0" in (e.value.hint or "")
    assert reaped(forks)
    packs = tmp_path / "store" / "packs"
    # the killed helper's sealed packs are complete (each with its index), registered nowhere
    registered = set(midx.Midx(str(packs / midx.NAME)).packs) if (packs / midx.NAME).exists() else set()
    sealed = {p.stem for p in packs.glob("*.idx")}
    assert sealed and not registered  # a first add: no multi-pack index was written
    # a rerun (split again) stores the rest and makes the index whole
    again, _ = add(tmp_path, data, "store", 1)
    serial, _ = add(tmp_path, data, "serial", 0)
    same(again, serial)
    assert_sound(tmp_path / "store", files)


def test_a_cairn_error_in_a_helper_is_raised_as_itself(tmp_path: Path, forks: list[int]) -> None:
    """A full disk (or a file it may not read) in a helper reads as it does in one process."""
    data = tmp_path / "data"
    write_files(data, 200, 7)
    parent = os.getpid()

    def full(path: str, size: int) -> str:
        if os.getpid() != parent:
            raise DiskFullError("no space left on device: cannot write there", "free space", "/there")
        return blake3(Path(path).read_bytes()).hexdigest()

    with pytest.raises(DiskFullError) as e:
        add(tmp_path, data, "store", 1, hash_fn=full)
    assert (e.value.message, e.value.hint, e.value.path) == (
        "no space left on device: cannot write there",
        "free space",
        "/there",
    )
    assert e.value.exit_code == 10
    assert reaped(forks)


def test_helpers_still_running_when_the_add_fails_are_stopped(tmp_path: Path, forks: list[int]) -> None:
    data = tmp_path / "data"
    write_files(data, 200, 8)
    parent = os.getpid()

    def stuck(path: str, size: int) -> str:
        if os.getpid() != parent:
            time.sleep(600)
        raise OSError("the parent's own share failed")

    start = time.monotonic()
    with pytest.raises(OSError, match="the parent's own share failed"):
        add(tmp_path, data, "store", 1, hash_fn=stuck)
    assert time.monotonic() - start < 30  # the sleeping helper was killed, not waited for
    assert reaped(forks)


def test_a_process_running_other_threads_hashes_alone(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked_mod, "other_threads", REAL_OTHER_THREADS)
    data = tmp_path / "data"
    write_files(data, 100, 9)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        add(tmp_path, data, "store", 1)
    finally:
        stop.set()
        other.join()
    assert forks == []


def test_a_helper_dies_with_its_parent(tmp_path: Path) -> None:
    """A parent killed with SIGKILL (no chance to stop its helpers) takes them along."""
    from cairn.index.forked import Forked

    pidfile = tmp_path / "helper.pid"
    parent = os.fork()
    if parent == 0:  # the add's process, in this test
        try:
            helper = Forked(lambda arg: time.sleep(600), None, "hint", "hashing files")
            pidfile.write_text(str(helper.pid))
            time.sleep(600)
        finally:
            os._exit(1)
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        helper = int(pidfile.read_text())
        os.kill(parent, signal.SIGKILL)
        os.waitpid(parent, 0)
        while alive(helper):
            assert time.monotonic() < deadline, "the helper outlived its parent"
            time.sleep(0.01)
    finally:
        try:
            os.kill(parent, signal.SIGKILL)
            os.waitpid(parent, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


_JOINED_THREADS = """
import threading
from concurrent.futures import ThreadPoolExecutor

from cairn.index.forked import other_threads

assert not other_threads(), "a fresh interpreter has a thread running"
for _ in range(50):
    pool = ThreadPoolExecutor(2)
    list(pool.map(abs, range(10)))
    pool.shutdown(wait=True)
    assert not other_threads(), "a pool shut down and joined counts as running"
stop = threading.Event()
other = threading.Thread(target=stop.wait)
other.start()
try:
    assert other_threads(), "a running thread does not count"
finally:
    stop.set()
    other.join()
"""


def test_threads_just_joined_do_not_count_as_running() -> None:
    """A pool shut down right before the split (the walk's scanners) may still be listed by the
    kernel for a moment after Python joined it; the add must not stay in one process for that
    (it did in a quarter of such cases), while a thread that runs does count. In a fresh
    interpreter: a test worker keeps other tests' threads (BLAKE3's pool, servers) alive."""
    proc = subprocess.run([sys.executable, "-c", _JOINED_THREADS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


_HASHED_BIG_FILES = """
import sys

from cairn.index.forked import other_threads
from cairn.objects.hashing import THREADS, hash_file, hash_mapped

assert THREADS > 1, "this machine hashes with one thread: nothing to check"
assert hash_file(sys.argv[1]) == hash_mapped(sys.argv[1])
assert not other_threads(), "BLAKE3's threads outlive the hashing of a big file"
"""


def test_hashing_a_big_file_leaves_no_thread_that_stops_a_split(tmp_path: Path) -> None:
    """A repro hashes one stage's big output, then adds the next stage's 10,000 files: BLAKE3's
    threads for the first (rayon's global pool, with blake3.AUTO) lived on and the second add
    never split. Each big file's pool now ends with its hasher."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: files are hashed on one thread")
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 * SMALL_FILE))
    proc = subprocess.run(
        [sys.executable, "-c", _HASHED_BIG_FILES, str(big)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def test_a_retired_thread_does_not_count_as_running() -> None:
    """The walk's scanner threads retire as their last act: under load the kernel took longer
    than the settle time to remove them once joined, and the add after the walk did not split.
    A retired thread is not counted; one that did not retire is, and so is a thread whose id
    was recorded with another start time (an id the kernel reused)."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("no /proc")
    stop = threading.Event()
    ids: dict[str, int] = {}

    def run(name: str, retire: bool) -> None:
        ids[name] = threading.get_native_id()
        if retire:
            forked_mod.retire()
        stop.wait()

    threads = [threading.Thread(target=run, args=(n, n == "retired")) for n in ("retired", "working")]
    for t in threads:
        t.start()
    try:
        while len(ids) < 2 or ids["retired"] not in forked_mod._retired:
            time.sleep(0.001)
        running = forked_mod._running_tasks()
        assert ids["working"] in running
        assert ids["retired"] not in running
        forked_mod._retired[ids["retired"]] = "0"  # as if recorded for an earlier thread of that id
        assert ids["retired"] in forked_mod._running_tasks()
    finally:
        stop.set()
        for t in threads:
            t.join()
