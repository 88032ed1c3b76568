"""The multi-pack index (objects/midx.py): written after packs change, used for lookups while it
covers exactly the packs on disk, ignored and rebuilt when it is missing, damaged or stale."""

from __future__ import annotations

import os
import random
import struct

from blake3 import blake3

from cairn.objects import midx
from cairn.objects.store import ObjectStore


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def pack_objects(store: ObjectStore, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    data = [rng.randbytes(rng.randint(1, 500)) for _ in range(n)]
    with store.packs.writer(target=4096) as w:  # several packs
        for d in data:
            w.add(b3(d), d)
    store.packs.update_midx()
    return data


def midx_path(store: ObjectStore) -> str:
    return f"{store.packs.root}/{midx.NAME}"


def test_a_fresh_store_finds_every_object_through_the_multi_pack_index(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = pack_objects(store, 300, 1)
    assert os.path.exists(midx_path(store))

    fresh = ObjectStore(tmp_path / "cache")
    for d in data:
        assert fresh.packs.read(b3(d)) == d
    assert fresh.packs._midx is not None and not fresh.packs._loaded  # no JSON index was read
    assert not fresh.packs.has("0" * 64) and not fresh.packs.has("f" * 64)
    asked = [b3(d) for d in data[::7]] + ["ab" * 32]
    assert fresh.packs.locate_many(asked) == {o: fresh.packs.locate(o) for o in asked[:-1]}
    assert set(fresh.packs.locate_many(b3(d) for d in data)) == {b3(d) for d in data}


def test_packs_added_later_are_merged_in_and_seen_by_the_writer_meanwhile(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    first = pack_objects(store, 50, 2)
    again = ObjectStore(tmp_path / "cache")
    assert again.packs.has(b3(first[0]))  # opens the multi-pack index
    second = pack_objects(again, 50, 3)
    assert all(again.packs.has(b3(d)) for d in second)  # sealed by this process: found meanwhile

    fresh = ObjectStore(tmp_path / "cache")
    assert all(fresh.packs.read(b3(d)) == d for d in first + second)
    assert fresh.packs._midx is not None and set(fresh.packs._midx.packs) == set(fresh.packs._on_disk())


def _raw(m: midx.Midx) -> list[bytes]:
    return [struct.pack("<32sIQQ", *r) for r in m.iter_rows()]


def test_a_few_new_rows_are_merged_into_a_big_index_where_a_sort_puts_them(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    first = pack_objects(store, 700, 4)
    again = ObjectStore(tmp_path / "cache")
    assert again.packs.has(b3(first[0]))  # opens the multi-pack index
    old = again.packs._midx
    assert old is not None
    raw = _raw(old)
    second = pack_objects(again, 3, 5)  # one small pack, as a re-add of a few files seals

    fresh = ObjectStore(tmp_path / "cache")
    assert all(fresh.packs.read(b3(d)) == d for d in first + second)
    m = fresh.packs._midx
    assert m is not None and not fresh.packs._loaded and m.count == 703
    more = [r for r in _raw(m) if r not in set(raw)]
    assert len(more) == 3
    with open(midx_path(fresh), "rb") as f:
        assert f.read() == midx.encode(m.packs, raw + more)  # byte for byte what a whole sort writes


def test_a_damaged_or_stale_multi_pack_index_is_ignored_and_rebuilt(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = pack_objects(store, 100, 4)
    path = midx_path(store)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 8)

    damaged = ObjectStore(tmp_path / "cache")
    assert all(damaged.packs.read(b3(d)) == d for d in data)  # from the JSON indexes
    assert damaged.packs._loaded
    assert midx.Midx(path).count == len(data)  # rebuilt whole

    more = ObjectStore(tmp_path / "other-writer")
    more.packs.root = store.packs.root  # another process adds a pack without updating the index
    extra = b"written by another process"
    with more.packs.writer() as w:
        w.add(b3(extra), extra)
    stale = ObjectStore(tmp_path / "cache")
    assert stale.packs.read(b3(extra)) == extra
    assert stale.packs._loaded
    assert midx.Midx(path).count == len(data) + 1


def test_gc_rewriting_a_pack_updates_the_multi_pack_index(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = pack_objects(store, 100, 5)
    doomed = {b3(d) for d in data[:60]}
    store.drop_packed(doomed)

    fresh = ObjectStore(tmp_path / "cache")
    assert all(fresh.packs.read(b3(d)) == d for d in data[60:])
    assert not any(fresh.packs.has(o) for o in doomed)
    assert fresh.packs._midx is not None


def test_status_asks_only_about_loose_trees_and_reads_no_pack_index(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    pack_objects(store, 10, 6)
    tree = store.add_bytes(b"a tree, loose as trees are")
    fresh = ObjectStore(tmp_path / "cache")
    assert fresh.exists(tree)
    assert fresh.packs._midx is None and not fresh.packs._loaded


def test_listing_every_packed_object_reads_no_json_index_and_matches_the_json_indexes(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    data = pack_objects(store, 200, 6)
    dup = data[3]
    with store.packs.writer() as w:  # an object held by two packs is listed once per pack
        w.add(b3(dup), dup)
    store.packs.update_midx()

    fresh = ObjectStore(tmp_path / "cache")
    listed = sorted(fresh.packs.listing())
    assert fresh.packs._midx is not None and not fresh.packs._loaded  # no JSON index was read
    from_json = sorted(
        (pid, oid, off, size) for pid in store.packs.pack_ids() for oid, off, size in store.packs.rows(pid)
    )
    assert listed == from_json
    assert sorted(oid for _, oid, _, _ in listed) == sorted([b3(d) for d in data] + [b3(dup)])
    assert all(fresh.packs.read(oid) is not None for _, oid, _, _ in listed)

    later = b"sealed after the index was opened"
    with fresh.packs.writer() as w:
        w.add(b3(later), later)
    assert b3(later) in {oid for _, oid, _, _ in fresh.packs.listing()}
    os.unlink(midx_path(store))  # without the multi-pack index: the JSON indexes, the same rows
    assert sorted(ObjectStore(tmp_path / "cache").packs.listing()) == sorted(fresh.packs.listing())


def rows_of(n: int, seed: int, packs: int) -> list[tuple[bytes, int, int, int]]:
    rng = random.Random(seed)
    ids = {rng.randbytes(32) for _ in range(n)} | {b"\x00" * 32, b"\xff" * 32} if n else set()
    return sorted((k, rng.randrange(packs), rng.randrange(1 << 40), rng.randrange(1 << 30)) for k in ids)


def written(tmp_path, name: str, data: bytes | bytearray) -> midx.Midx:
    folder = tmp_path / name
    folder.mkdir()
    midx.write(str(folder), data, lambda: str(folder / "tmp"))
    return midx.Midx(str(folder / midx.NAME))


def test_merging_new_rows_into_an_index_gives_the_index_of_all_rows(tmp_path):
    old_packs = [b3(b"old %d" % i) for i in range(3)]
    new_packs = [b3(b"new %d" % i) for i in range(2)]
    cases = [(3000, 500), (500, 3000), (0, 400), (400, 0)]
    for i, (n_old, n_new) in enumerate(cases):
        old = [r for r in rows_of(n_old, 10 + i, 3) if r[0][0] not in (0, 255)]  # the edge ids: new ones
        new = [r for r in rows_of(n_new, 20 + i, 2) if r[0] not in {o[0] for o in old}]
        m = written(tmp_path, f"old{i}", midx.encode(old_packs, [midx.row(k.hex(), *r) for k, *r in old]))

        data = midx.merged(m, new_packs, len(new), iter(new))

        every = [midx.row(k.hex(), *r) for k, *r in old] + [midx.row(k.hex(), p + 3, off, n) for k, p, off, n in new]
        assert bytes(data) == midx.encode(old_packs + new_packs, every)
        both = written(tmp_path, f"both{i}", data)
        for k, p, off, n in new[::37]:
            assert both.find(k.hex()) == (new_packs[p], off, n)
        for k, p, off, n in old[::37]:
            assert both.find(k.hex()) == (old_packs[p], off, n)


def test_merging_into_the_empty_index_of_a_cache_without_packs(tmp_path):
    new = rows_of(300, 5, 2)
    packs = [b3(b"a"), b3(b"b")]
    data = midx.merged(midx.EMPTY, packs, len(new), iter(new))
    assert bytes(data) == midx.encode(packs, [midx.row(k.hex(), *r) for k, *r in new])
    assert midx.EMPTY.find(new[0][0].hex()) is None and midx.EMPTY.find_many([new[0][0].hex()]) == {}


def test_a_first_add_writes_the_index_of_its_packs_from_what_it_kept_in_memory(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    rng = random.Random(7)
    data = [rng.randbytes(rng.randint(1, 500)) for _ in range(300)]
    assert not store.packs.has(b3(data[0]))  # the first lookup: no pack yet
    with store.packs.writer(target=4096) as w:
        for d in data:
            w.add(b3(d), d)
        w.add(b3(data[0]), data[0])  # in a pack sealed meanwhile: not written again
    assert store.packs._midx is midx.EMPTY and not store.packs._loaded  # no JSON index read
    assert all(store.packs.read(b3(d)) == d for d in data)  # found among the packs it sealed
    store.packs.update_midx()

    fresh = ObjectStore(tmp_path / "cache")
    assert midx.Midx(midx_path(fresh)).count == len({b3(d) for d in data})
    assert sum(len(fresh.packs.rows(p)) for p in fresh.packs.pack_ids()) == len({b3(d) for d in data})
    again = ObjectStore(tmp_path / "cache")
    assert all(again.packs.read(b3(d)) == d for d in data)
    assert again.packs._midx is not None and not again.packs._loaded
