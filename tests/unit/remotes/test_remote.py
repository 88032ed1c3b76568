"""cairn.remotes.remote against the in-memory storage: pieces of range requests, refresh of the
local index (damaged indexes, packs without an index, indexes without a pack), the generation a
push trusts, and packs built and rewritten through temp files."""

from __future__ import annotations

import json
import os

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects.store import ObjectStore
from cairn.remotes.remote import LAYOUT_KEY, PIECE, Remote, pieces
from cairn.storage.memory import MemoryStorage


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


@pytest.fixture
def store(tmp_path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache")


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


def remote_on(storage, tmp_path, name: str = "r") -> Remote:
    return Remote("store", storage, tmp_path / "state" / f"{name}.db", jobs=4)


def _objects(store: ObjectStore, n: int, size: int = 100) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        data = os.urandom(size) + bytes([i])
        out.append((store.add_bytes(data), len(data)))
    return out


def test_pieces_are_bounded_and_join_near_neighbours():
    rows = [(f"{i:064x}", i * 1000, 900) for i in range(100)]
    got = pieces(rows, limit=10_000, gap=200)
    assert [r for p in got for r in p] == rows  # every row once, in pack order
    assert all(p[-1][1] + p[-1][2] - p[0][1] <= 10_000 for p in got)
    assert len(got) == 10
    # far apart: one request each; one object bigger than the limit still gets its own
    assert len(pieces([("a", 0, 10), ("b", 10_000, 10)], limit=PIECE, gap=100)) == 2
    assert pieces([("a", 0, 50)], limit=10) == [[("a", 0, 50)]]


def test_upload_then_refresh_in_another_clone(store, storage, tmp_path):
    first = remote_on(storage, tmp_path, "first")
    first.refresh(create=True)
    objects = _objects(store, 5)
    pack_id, size, _ = first.upload_pack(store, objects)
    assert storage.get_bytes(f"packs/{pack_id}.pack") == b"".join(store.read(o) for o, _ in objects)
    assert not os.listdir(store.tmp)  # the temp pack file is gone
    second = remote_on(storage, tmp_path, "second")
    second.refresh()
    assert second.index.all_oids() == {o for o, _ in objects}
    assert second.index.packs() == {pack_id: size}


def test_a_pack_leaves_out_objects_the_cache_lacks(store, storage, tmp_path):
    r = remote_on(storage, tmp_path)
    r.refresh(create=True)
    objects = _objects(store, 3)
    store.remove(objects[1][0])
    pack_id, size, rows = r.upload_pack(store, objects)
    assert sorted(o for o, _, _ in rows) == sorted([objects[0][0], objects[2][0]])  # in the cache's read order
    assert size == objects[0][1] + objects[2][1]
    store.remove(objects[0][0])
    store.remove(objects[2][0])
    assert r.upload_pack(store, objects) is None  # nothing to pack: nothing uploaded
    assert sorted(k for k, _ in storage.list("packs")) == [f"packs/{pack_id}.idx", f"packs/{pack_id}.pack"]
    assert not os.listdir(store.tmp)


def test_refresh_sorts_out_what_is_not_a_whole_indexed_pack(store, storage, tmp_path):
    r = remote_on(storage, tmp_path)
    r.refresh(create=True)
    good, _, _ = r.upload_pack(store, _objects(store, 2))
    damaged, _, _ = r.upload_pack(store, _objects(store, 2))
    other, _, _ = r.upload_pack(store, _objects(store, 2))
    storage.put_bytes(f"packs/{damaged}.idx", b"not json")
    storage.put_bytes(f"packs/{other}.idx", storage.get_bytes(f"packs/{good}.idx"))  # names another pack
    storage.put_bytes("packs/orphan.pack", b"a push was killed before its index")
    storage.put_bytes("packs/stale.idx", b"{}")  # its pack is gone
    fresh = remote_on(storage, tmp_path, "fresh")
    with pytest.raises(CorruptObjectError, match=r"pack index packs/\w+\.idx on the remote is damaged"):
        fresh.refresh()
    fresh.refresh(tolerant=True)
    assert set(fresh.index.packs()) == {good}
    assert sorted(fresh.listing.damaged) == sorted([damaged, other])
    assert [p for p, _, _ in fresh.listing.orphans] == ["orphan"]
    assert fresh.listing.stale_indexes == ["stale"]


def test_the_generation_a_push_trusts(store, storage, tmp_path):
    r = remote_on(storage, tmp_path)
    assert not r.unchanged()  # never refreshed: nothing to trust
    r.refresh(create=True)
    assert r.unchanged()
    other = remote_on(storage, tmp_path, "other")
    other.bump_generation()  # what gc does before and after deleting
    assert not r.unchanged()
    r._fresh = False
    r.refresh()
    assert r.unchanged()
    storage.delete(LAYOUT_KEY)  # the remote was wiped
    assert not r.unchanged()


def test_an_old_layout_gets_a_generation_from_the_first_push(storage, tmp_path):
    storage.put_bytes(LAYOUT_KEY, b'{"version": 1}')
    r = remote_on(storage, tmp_path)
    r.refresh()  # reading does not write
    assert json.loads(storage.get_bytes(LAYOUT_KEY)) == {"version": 1}
    assert not r.unchanged()
    r._fresh = False
    r.refresh(create=True)
    assert json.loads(storage.get_bytes(LAYOUT_KEY))["generation"]
    assert r.unchanged()


def test_rewrite_pack_never_carries_a_damaged_object(store, storage, tmp_path):
    r = remote_on(storage, tmp_path)
    r.refresh(create=True)
    objects = _objects(store, 4)
    pack_id, size, rows = r.upload_pack(store, objects)
    r.index.add_pack(pack_id, size, rows)
    key = f"packs/{pack_id}.pack"
    data = bytearray(storage.get_bytes(key))
    bad_oid, bad_off, _ = rows[1]
    data[bad_off] ^= 0xFF
    storage.put_bytes(key, bytes(data))
    new_id, _, new_rows = r.rewrite_pack(store, pack_id, [o for o, _ in objects])
    assert {o for o, _, _ in new_rows} == {o for o, _ in objects} - {bad_oid}
    blob = storage.get_bytes(f"packs/{new_id}.pack")
    assert new_id == b3(json.dumps(sorted([o, off, n] for o, off, n in new_rows), separators=(",", ":")).encode())
    assert sum(n for _, _, n in new_rows) == len(blob)
    assert all(b3(blob[off : off + size]) == oid for oid, off, size in new_rows)


def test_an_index_claiming_bytes_beyond_its_pack_is_damaged(storage, tmp_path):
    """A crafted index must not make a reader allocate what the pack cannot hold."""
    from cairn.objects import pack
    from cairn.remotes.remote import pack_key

    remote = remote_on(storage, tmp_path)
    remote.refresh(create=True)
    rows = [(b3(b"x"), 0, 10), (b3(b"y"), 10, 100)]
    pid = pack.pack_id(rows)
    storage.put_bytes(pack_key(pid, "pack"), b"0123456789abc")
    storage.put_bytes(pack_key(pid, "idx"), pack.encode_index(pid, rows))
    other = remote_on(storage, tmp_path, "other")
    with pytest.raises(CorruptObjectError, match=rf"object {b3(b'y')} ends at byte 110, beyond the pack's 13"):
        other.refresh()
    other.refresh(tolerant=True, rescan=True)
    assert other.listing.damaged == [pid]
    assert other.index.all_oids() == set()


def test_a_layout_nested_too_deep_is_not_trusted(storage, tmp_path):
    remote = remote_on(storage, tmp_path)
    remote.refresh(create=True)
    storage.put_bytes(LAYOUT_KEY, b"[" * 100_000 + b"]" * 100_000)
    assert remote.unchanged() is False
