"""The write-once object store: BLAKE3 ids, `objects/<2>/<62>` layout, read-only objects,
atomic publication, corruption detection and concurrent writers in separate processes."""

from __future__ import annotations

import multiprocessing
import os
import random
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError, ObjectMissingError
from cairn.objects.chunks import Chunking
from cairn.objects.hashing import CHUNK, SMALL_FILE, hash_file
from cairn.objects.store import ObjectStore

WHOLE = Chunking(enabled=False)  # this module tests whole objects; chunked files: test_chunks.py


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    # a fixed umask, so "read-only" can be asserted as exactly 0o444
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache", WHOLE)


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _tmp_leftovers(store: ObjectStore) -> list[str]:
    return os.listdir(store.tmp) if store.tmp.exists() else []


# -- ids and layout ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"hello\n", bytes(range(256)) * 100])
def test_add_bytes_id_is_blake3_and_layout_is_two_hex_fanout(store: ObjectStore, data: bytes) -> None:
    oid = store.add_bytes(data)
    assert oid == blake3(data).hexdigest()
    path = store.root / "objects" / oid[:2] / oid[2:]
    assert len(oid[2:]) == 62
    assert store.path(oid) == str(path)
    assert path.read_bytes() == data
    assert store.exists(oid)
    assert store.size(oid) == len(data)
    assert store.read(oid) == data
    assert _mode(path) == 0o444


def test_prepare_creates_all_256_fanout_dirs(store: ObjectStore) -> None:
    store.prepare()
    fans = sorted(os.listdir(store.objects))
    assert fans == [f"{i:02x}" for i in range(256)]
    assert store.tmp.is_dir()


def test_iter_oids_lists_exactly_the_objects(store: ObjectStore) -> None:
    assert list(store.iter_oids()) == []  # no cache yet: nothing, no error
    oids = {store.add_bytes(f"object {i}".encode()) for i in range(40)}
    # stray files outside the fan-out folders are not objects
    (store.objects / "README").write_text("not an object")
    assert set(store.iter_oids()) == oids


# -- add_file_copy: the one-pass hash + copy ---------------------------------------------------
@pytest.mark.parametrize(
    "size",
    [0, 10, SMALL_FILE, SMALL_FILE + 1, CHUNK + 1, 4 * CHUNK + 12345],
    ids=["empty", "small", "small-limit", "streaming", "two-chunks", "many-chunks"],
)
def test_add_file_copy_matches_add_bytes_and_blake3(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    a = ObjectStore(tmp_path / "a", WHOLE)
    b = ObjectStore(tmp_path / "b")
    oid = a.add_file_copy(str(src), size)
    assert oid == blake3(data).hexdigest() == hash_file(src)
    assert b.add_bytes(data) == oid
    assert Path(a.path(oid)).read_bytes() == data
    assert _mode(a.path(oid)) == 0o444
    assert a.verify(oid)
    assert _tmp_leftovers(a) == []
    assert src.read_bytes() == data  # the source is left alone


@pytest.mark.parametrize("size", [100, SMALL_FILE + 1], ids=["small", "streaming"])
def test_writing_an_existing_object_leaves_it_untouched(store: ObjectStore, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid = store.add_file_copy(str(src), size)
    before = os.stat(store.path(oid))
    past = before.st_mtime_ns - 10**9 * 3600
    os.utime(store.path(oid), ns=(past, past))  # any rewrite would change mtime or inode

    assert store.add_bytes(data) == oid
    assert store.add_file_copy(str(src), size) == oid

    after = os.stat(store.path(oid))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, past)
    assert _tmp_leftovers(store) == []


def test_add_file_link_makes_the_file_the_object(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "linked.bin"
    src.write_bytes(b"linked content")
    oid = hash_file(src)
    assert store.add_file_link(str(src), oid)
    assert os.path.samefile(src, store.path(oid))
    assert _mode(store.path(oid)) == 0o444
    # a second link of the same content is a no-op
    other = tmp_path / "other.bin"
    other.write_bytes(b"linked content")
    assert store.add_file_link(str(other), oid)
    assert not os.path.samefile(other, store.path(oid))
    assert _tmp_leftovers(store) == []


# -- reading and verifying ---------------------------------------------------------------------
def _damage(store: ObjectStore, oid: str, data: bytes) -> None:
    p = store.path(oid)
    os.chmod(p, 0o644)
    Path(p).write_bytes(data)
    os.chmod(p, 0o444)


def test_read_verified_detects_corruption(store: ObjectStore) -> None:
    oid = store.add_bytes(b"precious data")
    assert store.read_verified(oid) == b"precious data"
    assert store.verify(oid)
    _damage(store, oid, b"precious dat4")
    with pytest.raises(CorruptObjectError) as e:
        store.read_verified(oid)
    assert oid in e.value.message
    assert "cairn fsck" in (e.value.hint or "")
    assert not store.verify(oid)
    assert store.read(oid) == b"precious dat4"  # plain read does not check


def test_verify_detects_corruption_of_a_large_object(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(SMALL_FILE + 100)
    src = tmp_path / "big"
    src.write_bytes(data)
    oid = store.add_file_copy(str(src), len(data))
    assert store.verify(oid)
    _damage(store, oid, data[:-1] + bytes([data[-1] ^ 1]))
    assert not store.verify(oid)


def test_read_missing_object(store: ObjectStore) -> None:
    oid = blake3(b"never stored").hexdigest()
    with pytest.raises(ObjectMissingError) as e:
        store.read(oid)
    assert e.value.oids == [oid]
    assert "cairn pull" in (e.value.hint or "")
    with pytest.raises(ObjectMissingError):
        store.read_verified(oid)
    assert not store.exists(oid)


def test_remove(store: ObjectStore) -> None:
    oid = store.add_bytes(b"x")
    store.remove(oid)
    assert not store.exists(oid)
    store.remove(oid)  # removing a missing object is not an error


# -- temp files ----------------------------------------------------------------------------------
def test_sweep_tmp_removes_only_old_temp_files(store: ObjectStore) -> None:
    assert store.sweep_tmp() == 0  # no tmp folder yet
    old = [store.tmp_path() for _ in range(3)]
    new = [store.tmp_path() for _ in range(2)]
    assert len(set(old + new)) == 5  # temp names are unique
    for p in old + new:
        Path(p).write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for p in old:
        os.utime(p, (two_hours_ago, two_hours_ago))
    oid = store.add_bytes(b"a real object")

    assert store.sweep_tmp(older_than_s=3600) == 3
    assert sorted(os.listdir(store.tmp)) == sorted(os.path.basename(p) for p in new)
    assert store.exists(oid)


# -- concurrent writers (real processes) ---------------------------------------------------------
def _writer(root: str, shared: list[bytes], unique: list[bytes], big: str, seed: int, barrier) -> None:
    store = ObjectStore(root)
    work: list[bytes | None] = [*shared, *unique, None]  # None: the shared big file
    random.Random(seed).shuffle(work)
    barrier.wait(timeout=60)
    for i, data in enumerate(work):
        if data is None:
            store.add_file_copy(big, os.path.getsize(big))
        elif i % 2:
            store.add_bytes(data)
        else:
            src = f"{root}.{os.getpid()}.{i}"
            with open(src, "wb") as f:
                f.write(data)
            store.add_file_copy(src, len(data))
            os.unlink(src)


def test_concurrent_writers_end_with_exactly_the_right_objects(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    shared = [f"shared object {i}".encode() * (i + 1) for i in range(40)]
    workers = 4
    unique = [[f"unique {w}/{i}".encode() for i in range(15)] for w in range(workers)]
    big = tmp_path / "big.bin"
    big_data = os.urandom(SMALL_FILE + 4096)
    big.write_bytes(big_data)

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_writer, args=(str(root), shared, unique[w], str(big), w, barrier)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * workers

    store = ObjectStore(root)
    expected = {blake3(d).hexdigest() for d in shared + [u for us in unique for u in us] + [big_data]}
    assert set(store.iter_oids()) == expected
    for oid in expected:
        assert store.read_verified(oid)
        assert _mode(store.path(oid)) == 0o444
    assert _tmp_leftovers(store) == []


def test_large_add_without_kernel_copy_falls_back_to_one_user_space_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    data = random.Random(3).randbytes(SMALL_FILE + 3 * CHUNK + 17)
    src = tmp_path / "big.bin"
    src.write_bytes(data)

    def no_kernel_copy(*args: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", no_kernel_copy)
    store = ObjectStore(tmp_path / "cache", WHOLE)
    oid = store.add_file_copy(str(src), len(data))
    assert oid == blake3(data).hexdigest()
    assert Path(store.path(oid)).read_bytes() == data


def test_a_large_file_changed_during_add_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cairn.objects.store as store_mod
    from cairn.errors import PathError

    src = tmp_path / "big.bin"
    src.write_bytes(random.Random(4).randbytes(SMALL_FILE + CHUNK))
    real_hash = store_mod.hash_chunks

    def hash_then_append(path: str) -> str:
        oid = real_hash(path)
        time.sleep(0.02)  # a later timestamp tick for the write below
        with open(path, "ab") as f:
            f.write(b"written by someone else meanwhile")
        return oid

    monkeypatch.setattr(store_mod, "hash_chunks", hash_then_append)
    store = ObjectStore(tmp_path / "cache", WHOLE)
    with pytest.raises(PathError, match="changed while cairn was adding it"):
        store.add_file_copy(str(src), SMALL_FILE + CHUNK)
    assert list(store.iter_oids()) == []


def test_an_object_written_into_a_fresh_cache_twice_is_stored_once(tmp_path: Path) -> None:
    # a cache made by this process skips the existence check: the second write must still keep the first
    fresh = ObjectStore(tmp_path / "cache")
    fresh.prepare()
    src = tmp_path / "src.bin"
    src.write_bytes(b"same bytes")
    oid = fresh.add_file_copy(str(src), 10)
    ino = os.stat(fresh.path(oid)).st_ino
    assert fresh.add_file_copy(str(src), 10) == oid
    assert os.stat(fresh.path(oid)).st_ino == ino
    assert list(fresh.iter_oids()) == [oid]
    assert _mode(fresh.path(oid)) == 0o444
    assert ObjectStore(tmp_path / "cache").add_file_copy(str(src), 10) == oid  # an existing cache: checked first
    assert _tmp_leftovers(fresh) == []


@pytest.mark.parametrize("many", [3, 40], ids=["stat-each", "list-folder"])
def test_missing_names_exactly_the_absent_ids(store: ObjectStore, many: int) -> None:
    # ids sharing one fan-out folder: from 16 on, the folder is listed instead of one stat per id
    ids = [f"ab{i:062x}" for i in range(many)]
    present = ids[::2]
    for oid in present:
        store.add_bytes(oid.encode(), oid)
    other = store.add_bytes(b"elsewhere")
    absent = sorted(set(ids) - set(present))
    assert store.missing([*ids, other, ids[1]]) == absent
    assert store.missing([]) == []
    assert ObjectStore(store.root.parent / "nothing").missing(ids) == sorted(ids)
