"""Packed objects in the local cache (objects/localpacks.py): written sequentially, sealed
with an index only when whole, found by a fresh store, rewritten by gc, crash leftovers
ignored and swept."""

from __future__ import annotations

import json
import os
import random
import threading

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects import pack
from cairn.objects.localpacks import SMALL_PACKED, coalesce
from cairn.objects.store import ObjectStore


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def blobs(n: int, size: int = 1000, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(n)]


def packs_dir(store: ObjectStore) -> list[str]:
    return sorted(os.listdir(store.packs.root)) if os.path.isdir(store.packs.root) else []


def packed(tmp_path, n: int = 1) -> tuple[ObjectStore, list[bytes], str]:
    """A cache whose first pack holds n generated objects: the store, the objects, the pack's id."""
    store = ObjectStore(tmp_path / "cache")
    data = blobs(n)
    with store.packs.writer() as w:
        for d in data:
            w.add(b3(d), d)
    (pid,) = store.packs.pack_ids()
    return store, data, pid


def test_objects_written_are_found_by_a_fresh_store_in_the_remotes_format(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = blobs(5)
    with store.packs.writer() as w:
        for d in data:
            w.add(b3(d), d)
        w.add(b3(data[0]), data[0])  # the same object twice is written once

    names = packs_dir(store)
    assert len(names) == 2 and names[0].endswith(".idx") and names[1].endswith(".pack")
    pid = names[0][:-4]
    idx = (tmp_path / "cache" / "packs" / names[0]).read_bytes()
    assert pack.parse_index(idx, "x") == (pid, sorted((b3(d), i * 1000, 1000) for i, d in enumerate(data)))
    assert (tmp_path / "cache" / "packs" / names[1]).read_bytes() == b"".join(data)
    again = ObjectStore(tmp_path / "cache")
    for d in data:
        oid = b3(d)
        assert again.exists(oid) and again.has_object(oid) and again.read(oid) == d
        assert again.read_verified(oid) == d and again.size(oid) == 1000 and again.verify(oid)
    assert again.missing([b3(d) for d in data] + ["0" * 64]) == ["0" * 64]
    assert sorted(again.iter_packed()) == sorted(b3(d) for d in data)


def test_a_pack_is_sealed_at_its_target_size_and_nothing_shows_before(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = blobs(10)
    with store.packs.writer(target=3000) as w:
        for i, d in enumerate(data):
            w.add(b3(d), d)
            if i == 1:
                assert not any(n.endswith(".idx") for n in packs_dir(store))  # not sealed: invisible
                assert not ObjectStore(tmp_path / "cache").has_object(b3(d))
    assert len([n for n in packs_dir(store) if n.endswith(".idx")]) == 4  # 3 + 3 + 3 + 1
    assert all(ObjectStore(tmp_path / "cache").read(b3(d)) == d for d in data)


def test_an_error_while_writing_leaves_only_sealed_packs(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = blobs(4)
    with pytest.raises(RuntimeError), store.packs.writer(target=2000) as w:
        for d in data[:3]:
            w.add(b3(d), d)
        raise RuntimeError("killed")
    fresh = ObjectStore(tmp_path / "cache")
    assert [fresh.has_object(b3(d)) for d in data] == [True, True, False, False]
    names = packs_dir(store)
    assert [n for n in names if n.endswith(".pack")] == [n[:-4] + ".pack" for n in names if n.endswith(".idx")]


def test_a_pack_without_its_index_is_never_read_and_gc_sweeps_it_when_old(tmp_path):
    store, (d,), pid = packed(tmp_path)
    os.unlink(store.packs.idx_path(pid))  # a writer killed between linking the pack and its index

    fresh = ObjectStore(tmp_path / "cache")
    assert not fresh.exists(b3(d)) and fresh.packs.orphans() == [pid]
    assert fresh.sweep_orphan_packs() == 0  # young: may be a live writer's
    os.utime(store.packs.pack_path(pid), (1, 1))
    assert fresh.sweep_orphan_packs() == 1 and packs_dir(store) == []


def test_a_damaged_index_is_named_its_objects_unfound_and_remove_drops_the_pack(tmp_path):
    store, (d,), pid = packed(tmp_path)
    path = store.packs.idx_path(pid)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(b'{"version": 1, "pack": "nope"')

    fresh = ObjectStore(tmp_path / "cache")
    assert not fresh.exists(b3(d))
    err = fresh.packs.damaged[pid]
    assert isinstance(err, CorruptObjectError)
    assert err.message.startswith(f"pack index packs/{pid}.idx in the cache is damaged (")
    assert err.hint == "run `cairn fsck --delete-corrupt` to drop the pack, then `cairn pull` (or `cairn add` again)"
    fresh.remove(pid)
    assert packs_dir(store) == []


def test_an_index_of_a_newer_format_is_refused(tmp_path):
    store, (d,), pid = packed(tmp_path)
    path = store.packs.idx_path(pid)
    with open(path, "rb") as f:
        doc = json.loads(f.read())
    os.chmod(path, 0o644)
    with open(path, "w") as f:
        json.dump({**doc, "version": 2}, f)

    fresh = ObjectStore(tmp_path / "cache")
    assert not fresh.has_object(b3(d))
    assert fresh.packs.damaged[pid].message == f"pack index packs/{pid}.idx has format version 2; this cairn reads 1"


def test_drop_packed_rewrites_a_pack_without_the_dropped_objects(tmp_path):
    store, data, old = packed(tmp_path, 6)
    gone = {b3(d) for d in data[:4]}

    assert store.drop_packed(gone) == 4000

    (new,) = store.packs.pack_ids()
    assert new != old and not os.path.exists(store.packs.pack_path(old))
    fresh = ObjectStore(tmp_path / "cache")
    assert [fresh.has_object(b3(d)) for d in data] == [False] * 4 + [True] * 2
    assert fresh.read(b3(data[5])) == data[5]
    assert fresh.drop_packed({b3(data[4]), b3(data[5])}) == 2000
    assert packs_dir(store) == []


def test_a_damaged_packed_object_is_reported_and_not_carried_into_a_rewrite(tmp_path):
    store, data, pid = packed(tmp_path, 3)
    path = store.packs.pack_path(pid)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"rot")
    assert not store.verify(b3(data[1])) and not store.verify_object(b3(data[1]))
    with pytest.raises(CorruptObjectError):
        store.read_verified(b3(data[1]))

    store.drop_packed({b3(data[0])})  # rewriting for another reason drops the damaged one too

    assert ObjectStore(tmp_path / "cache").missing([b3(d) for d in data]) == sorted([b3(data[0]), b3(data[1])])


def test_a_store_finds_a_pack_another_writer_sealed_after_a_refresh(tmp_path):
    reader = ObjectStore(tmp_path / "cache")
    assert not reader.has_object("0" * 64)  # indexes read (none yet)
    d = blobs(1)[0]
    with ObjectStore(tmp_path / "cache").packs.writer() as w:
        w.add(b3(d), d)
    reader.packs.refresh()
    assert reader.read(b3(d)) == d


def test_threads_adding_at_once_make_whole_packs(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = blobs(200, size=5000)
    with store.packs.writer(target=100_000) as w:
        threads = [threading.Thread(target=lambda part=data[i::4]: [w.add(b3(d), d) for d in part]) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    fresh = ObjectStore(tmp_path / "cache")
    assert all(fresh.read_verified(b3(d)) == d for d in data)


def test_coalesce_merges_runs_adjacent_in_the_buffer_and_the_pack():
    locs = [(0, ("a", 100, 10)), (10, ("a", 110, 5)), (15, ("b", 0, 5)), (20, ("b", 10, 5)), (25, ("b", 15, 1))]
    assert coalesce(locs) == [("a", 100, 0, 15), ("b", 0, 15, 5), ("b", 10, 20, 6)]


def test_an_object_in_two_packs_stays_found_when_one_goes(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    d, e = blobs(2)
    with store.packs.writer() as w:
        w.add(b3(d), d)
    (first,) = store.packs.pack_ids()
    with store.packs.writer() as w:  # another add that did not see the first pack
        w.add(b3(e), e)
        w.add(b3(d), d)
    store.packs.drop(first)
    store.packs.reindex()
    assert store.read(b3(d)) == d and store.packs.locate(b3(d))[0] != first


# -- small files packed by an add (ObjectStore.packing) -------------------------------------------


def small_files(folder, n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    folder.mkdir()
    out = []
    for i in range(n):
        data = rng.randbytes(rng.randint(0, 9000))
        path = folder / f"f{i}"
        path.write_bytes(data)
        out.append((str(path), data))
    return out


def test_small_files_added_while_packing_go_into_one_sealed_pack_from_many_threads(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    files = small_files(tmp_path / "src", 400)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(SMALL_PACKED))
    oids: list[str] = []
    with store.packing():

        def add(part: list[tuple[str, bytes]]) -> None:
            oids.extend(store.add_file_copy(p, len(d)) for p, d in part)

        threads = [threading.Thread(target=add, args=(files[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        big_oid = store.add_file_copy(str(big), SMALL_PACKED)
        assert all(store.has_object(o) for o in oids)  # the open pack counts: never stored twice
        assert not store.packs.pack_ids()  # nothing sealed before the end

    assert sorted(oids) == sorted(b3(d) for _, d in files)
    (pid,) = store.packs.pack_ids()
    assert {r[0] for r in store.packs.rows(pid)} == {b3(d) for _, d in files}
    assert os.path.exists(store.path(big_oid))  # at the threshold: loose
    fresh = ObjectStore(tmp_path / "cache")
    for _, d in files:
        assert fresh.read_verified(b3(d)) == d
        assert not os.path.exists(fresh.path(b3(d)))


def test_packing_skips_objects_already_loose_or_packed(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    files = small_files(tmp_path / "src", 3)
    store.add_bytes(files[0][1])
    with store.packing():
        store.add_file_copy(files[1][0], len(files[1][1]))
    store = ObjectStore(tmp_path / "cache")  # the next command
    with store.packing():
        for p, d in files:
            store.add_file_copy(p, len(d))
    rows = [r[0] for pid in store.packs.pack_ids() for r in store.packs.rows(pid)]
    assert sorted(rows) == sorted([b3(files[1][1]), b3(files[2][1])])


def test_an_error_while_packing_leaves_no_pack_and_no_temp_file(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    files = small_files(tmp_path / "src", 20)
    with pytest.raises(KeyboardInterrupt), store.packing():
        for p, d in files:
            store.add_file_copy(p, len(d))
        raise KeyboardInterrupt
    assert packs_dir(store) == []
    assert os.listdir(store.tmp) == []
    assert not any(store.has_object(b3(d)) for _, d in files)


def test_buffered_small_objects_and_kernel_copied_runs_keep_their_order(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    run = os.urandom(3000)
    src = tmp_path / "run"
    src.write_bytes(run)
    a, b = b"first small", b"second small"
    with store.packs.writer() as w, open(src, "rb") as f:
        w.add(b3(a), a)
        w.add_run(f.fileno(), 0, [(b3(run[:1000]), 1000), (b3(run[1000:]), 2000)])
        w.add(b3(b), b)
    for data in (a, run[:1000], run[1000:], b):
        assert store.packs.read(b3(data)) == data


def test_file_of_copies_a_packed_object_out_loose_for_readers_that_need_a_path(tmp_path):
    store, data, _ = packed(tmp_path, 2)
    path = store.file_of(b3(data[0]))
    assert path == store.path(b3(data[0]))
    with open(path, "rb") as f:
        assert f.read() == data[0]
    assert store.file_of("0" * 64) is None


def test_read_plan_orders_packed_objects_by_pack_and_offset_then_the_rest(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = blobs(120, 100, seed=3)
    with store.packs.writer(target=2000) as w:  # several packs, objects in the order written
        for d in data[:100]:
            w.add(b3(d), d)
    loose = [store.add_bytes(d) for d in data[100:]]
    objects = sorted([*((b3(d), len(d)) for d in data), ("0" * 64, 5)])  # and one the cache lacks

    plan, pids = ObjectStore(tmp_path / "cache").read_plan(objects)

    assert sorted((o, n) for o, n, _, _ in plan) == sorted(objects)
    packed = [(pids[p], off) for _, _, p, off in plan if p >= 0]
    assert len(packed) == 100 and packed == sorted(packed, key=lambda x: (pids.index(x[0]), x[1]))
    assert [o for o, _, p, _ in plan if p < 0] == sorted([*loose, "0" * 64])  # after, in the order given
    assert sorted(pids) == store.packs.pack_ids() and len(pids) > 1

    where = {o: (pids[p], off, n) for o, n, p, off in plan if p >= 0}
    got = {o: bytes(d) for o, d in store.iter_stored([(o, n) for o, n, _, _ in plan], where)}
    assert got == {b3(d): d for d in data}


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise (macOS)")
def test_an_add_drops_the_packs_it_sealed_from_the_page_cache_but_the_last(tmp_path, dontneed):
    # issue 22: an add's packs (4.5 GB at 1M files) crowded the files still to read out of the cache
    advised = dontneed
    store = ObjectStore(tmp_path / "cache", pack_target=3000)
    files = small_files(tmp_path / "src", 12)
    with store.packing():
        oids = [store.add_file_copy(p, len(d)) for p, d in files]
    inodes = {p: os.stat(store.packs.pack_path(p)).st_ino for p in store.packs.pack_ids()}
    assert len(inodes) >= 3
    last = inodes[store.packs.locate(oids[-1])[0]]  # the pack sealed last holds the file added last
    # each pack: its writeback started as it is sealed, dropped when the next one is; the last stays
    assert sorted(advised) == sorted([*inodes.values(), *(i for i in inodes.values() if i != last)])
    fresh = ObjectStore(tmp_path / "cache")
    assert [fresh.read_verified(o) for o in oids] == [d for _, d in files]

    advised.clear()  # other writers (a fetch) keep their packs cached: a pull checks them out next
    with store.packs.writer(target=3000) as w:
        for d in blobs(10, seed=3):
            w.add(b3(d), d)
    assert advised == []


@pytest.mark.parametrize("index", ["multi-pack index", "JSON indexes"])
def test_a_pack_adopted_from_a_helper_as_columns_is_found_and_indexed(tmp_path, index):
    """A split add's helper sends each pack it sealed as columns (ids' bytes, offsets, sizes);
    the adding process finds its objects whichever index it has in use, and writes them into
    the multi-pack index at the end, as it would its own."""
    from cairn.objects import midx
    from cairn.objects.localpacks import columns, rows_of

    helper = ObjectStore(tmp_path / "cache")
    data = blobs(40, size=300, seed=7)
    with helper.packs.writer() as w:
        for d in data:
            w.add(b3(d), d)
    (pid,) = helper.packs.pack_ids()
    rows = helper.packs.rows(pid)
    assert rows_of(columns(rows)) == rows

    parent = ObjectStore(tmp_path / "cache")
    if index == "JSON indexes":
        parent.packs.refresh()  # as after finding the multi-pack index stale
    else:
        parent.packs._midx = midx.EMPTY  # as before a first add's helpers fork: no pack was there
    parent.packs.adopt(pid, columns(rows))
    for d in data:
        assert parent.packs.locate(b3(d)) == helper.packs.locate(b3(d))
        assert parent.read(b3(d)) == d
    assert parent.packs.locate("0" * 64) is None
    parent.packs.update_midx()
    fresh = ObjectStore(tmp_path / "cache")
    assert isinstance(fresh.packs._index(), midx.Midx)
    assert sorted(fresh.packs.locate_many(b3(d) for d in data)) == sorted(b3(d) for d in data)


def test_seal_packs_mid_add_merges_them_into_the_index_in_use_and_packing_goes_on(tmp_path):
    """An add seals its open pack before writing the trees of the files it stored; the packs
    sealed so far go into the multi-pack index, which is then used instead of their rows held in
    memory; files stored afterwards go into a new pack, in the index at the end."""
    from cairn.objects import midx

    store = ObjectStore(tmp_path / "cache", pack_target=4000)
    before, after = blobs(30, size=300, seed=1), blobs(5, size=300, seed=2)
    src = tmp_path / "src"
    src.mkdir()
    with store.packing():
        for i, d in enumerate(before):
            (src / f"b{i}").write_bytes(d)
            assert store.add_file_copy(str(src / f"b{i}"), len(d)) == b3(d)
        store.seal_packs()
        assert isinstance(store.packs._midx, midx.Midx) and len(store.packs._recent) == 0
        assert all(store.packs.has(b3(d)) for d in before)
        for i, d in enumerate(after):
            (src / f"a{i}").write_bytes(d)
            store.add_file_copy(str(src / f"a{i}"), len(d))
    fresh = ObjectStore(tmp_path / "cache")
    assert isinstance(fresh.packs._index(), midx.Midx)  # current: lists every pack on disk
    assert all(fresh.read(b3(d)) == d for d in before + after)
