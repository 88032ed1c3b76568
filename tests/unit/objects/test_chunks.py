"""The chunker and chunk lists (objects/chunks.py): block-wise cutting equals one pass, lists are
checked as a format, a chunked file reads back through the store."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

import pyfastcdc
import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError
from cairn.objects import chunks
from cairn.objects.store import ObjectStore


def test_cutting_in_blocks_gives_the_cuts_of_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "_BLOCK", 300_000)  # many block ends, each carrying a chunk over
    data = random.Random(1).randbytes(3_000_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    cdc = pyfastcdc.FastCDC(chunks.AVG, min_size=chunks.MIN, max_size=chunks.MAX, normalized_chunking=chunks.NC)

    got = [bytes(c) for c in chunks.cut(str(src))]

    assert got == [bytes(c.data) for c in cdc.cut_buf(data)]
    assert b"".join(got) == data


def test_a_chunked_file_reads_back_and_lists_are_checked(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    data = random.Random(2).randbytes(2_500_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)

    oid = store.add_file_copy(str(src), len(data))

    assert oid == blake3(data).hexdigest() and store.is_chunked(oid)
    assert store.size(oid) == len(data) and store.verify(oid)
    assert store.read_verified(oid) == data
    with store.open_verified(oid) as f:
        f.seek(1_000_000)
        assert f.read(5) == data[1_000_000:1_000_005]
    cl = store.chunk_list(oid)
    assert cl is not None and chunks.decode(cl.encode(), oid) == cl
    with pytest.raises(CorruptObjectError, match="has format version 3; this cairn reads 1 and 2"):
        chunks.decode(cl.encode().replace(b'"version":2', b'"version":3'), oid)
    with pytest.raises(CorruptObjectError, match=f"the chunk list of {oid} is damaged"):
        chunks.decode(cl.encode().replace(b'"size":', b'"size":1'), oid)
    with pytest.raises(CorruptObjectError, match="is damaged"):
        chunks.decode(cl.encode(), "0" * 64)  # names another file


def test_a_list_whose_chunks_do_not_make_the_file_is_corrupt(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    data = random.Random(3).randbytes(2_000_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    oid = store.add_file_copy(str(src), len(data))
    cl = store.chunk_list(oid)
    assert cl is not None
    swapped = chunks.ChunkList(oid, cl.size, (cl.chunks[1], cl.chunks[0], *cl.chunks[2:]))
    Path(store.list_path(oid)).chmod(0o644)
    Path(store.list_path(oid)).write_bytes(swapped.encode())

    assert not store.verify(oid)
    with pytest.raises(CorruptObjectError, match="its chunks do not make the file"):
        store.read(oid)


def test_an_add_over_many_blocks_stores_the_chunks_of_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # small blocks: the reading buffers are reused many times while chunks are hashed on other threads
    monkeypatch.setattr(chunks, "_BLOCK", 300_000)
    data = random.Random(5).randbytes(4_000_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    cdc = pyfastcdc.FastCDC(chunks.AVG, min_size=chunks.MIN, max_size=chunks.MAX, normalized_chunking=chunks.NC)

    oid = store.add_file_copy(str(src), len(data))

    cl = store.chunk_list(oid)
    assert oid == blake3(data).hexdigest() and cl is not None
    assert list(cl.chunks) == [(blake3(c.data).hexdigest(), c.length) for c in cdc.cut_buf(data)]
    assert all(store.verify_object(c) for c, _ in cl.chunks)


def test_a_file_of_exactly_whole_blocks_is_cut_as_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "_BLOCK", 300_000)
    data = random.Random(6).randbytes(1_200_000)  # its end falls where a block ends
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    cdc = pyfastcdc.FastCDC(chunks.AVG, min_size=chunks.MIN, max_size=chunks.MAX, normalized_chunking=chunks.NC)

    assert [bytes(c) for c in chunks.cut(str(src))] == [bytes(c.data) for c in cdc.cut_buf(data)]


def test_a_pack_cut_short_is_named_at_checkout_without_reading_past_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hashing maps the packs: reading a mapping past a file's end would kill the process (SIGBUS)
    monkeypatch.setattr(chunks, "_MAP_FROM", 4096)
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    data = random.Random(7).randbytes(3_000_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    oid = store.add_file_copy(str(src), len(data))
    cl = store.chunk_list(oid)
    assert cl is not None
    (pid,) = store.packs.pack_ids()
    pack_file = Path(store.packs.pack_path(pid))
    pack_file.chmod(0o644)
    os.truncate(pack_file, 2_000_000)
    starts = list(itertools.accumulate((n for _, n in cl.chunks), initial=0))
    first_short = next(c for (c, n), a in zip(cl.chunks, starts, strict=False) if a + n > 2_000_000)

    out = tmp_path / "out.bin"
    with open(out, "wb") as f, pytest.raises(CorruptObjectError, match=f"its chunk {first_short} is corrupt"):
        chunks.copy_into(store, cl, f.fileno(), "f.bin")


def test_a_checkout_hashed_through_mappings_rebuilds_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "_MAP_FROM", 4096)  # every run of chunks hashed from a mapping
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    data = random.Random(8).randbytes(3_000_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    oid = store.add_file_copy(str(src), len(data))
    cl = store.chunk_list(oid)
    assert cl is not None

    out = tmp_path / "out.bin"
    with open(out, "wb") as f:
        chunks.copy_into(store, cl, f.fileno(), "f.bin")
    assert out.read_bytes() == data


@pytest.mark.parametrize(
    "row",
    [["A" * 64, 5], ["a" * 63, 5], ["a" * 65, 5], ["a" * 64, 0], ["a" * 64, True], ["a" * 64, 5.0], ["a" * 64], "x"],
)
def test_a_bad_row_among_good_ones_makes_the_list_damaged_and_is_named(row: object) -> None:
    good = [["b" * 64, 7]] * 3
    doc = {"chunks": [*good, row], "oid": "c" * 64, "size": 26, "version": 1}
    with pytest.raises(CorruptObjectError, match=r"is damaged \((bad row|a row is not)"):
        chunks.decode(json.dumps(doc).encode(), "c" * 64)


def test_good_rows_decode_as_they_were_written() -> None:
    cl = chunks.ChunkList("c" * 64, 12, (("a" * 64, 5), ("b" * 64, 7)))
    assert chunks.decode(cl.encode(), "c" * 64) == cl


def test_version_2_rows_are_36_bytes_and_version_1_lists_are_still_read() -> None:
    rows = tuple((f"{i:064x}", 1000 + i) for i in range(300))
    cl = chunks.ChunkList("c" * 64, sum(n for _, n in rows), rows)
    data = cl.encode()
    head, body = data.split(b"\n", 1)
    assert json.loads(head)["version"] == 2 and json.loads(head)["rows"] == 300 and len(body) == 300 * 36
    v1 = {"chunks": [[o, n] for o, n in rows], "oid": "c" * 64, "size": cl.size, "version": 1}
    old = json.dumps(v1, separators=(",", ":"), sort_keys=True).encode()
    assert chunks.decode(old, "c" * 64) == cl and len(data) < len(old) / 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-1],  # a row cut short
        lambda d: d + b"\0" * 36,  # more rows than announced
        lambda d: d.replace(b'"rows":2', b'"rows":3'),
        lambda d: d.split(b"\n", 1)[0],  # no rows at all
        lambda d: d[:-4] + b"\0\0\0\0",  # a chunk of 0 bytes
    ],
)
def test_a_damaged_version_2_list_is_named_damaged(damage) -> None:
    cl = chunks.ChunkList("c" * 64, 12, (("a" * 64, 5), ("b" * 64, 7)))
    with pytest.raises(CorruptObjectError, match=f"the chunk list of {'c' * 64} is damaged"):
        chunks.decode(damage(cl.encode()), "c" * 64)


def test_a_chunked_add_leaves_a_multi_pack_index_of_its_chunks(tmp_path: Path) -> None:
    """The next version's add looks every chunk up: in the mmapped index, not by parsing each
    pack's JSON index (and the index then grows only by the next version's new rows)."""
    from cairn.objects import midx

    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    src = tmp_path / "f.bin"
    src.write_bytes(random.Random(4).randbytes(3_000_000))
    oid = store.add_file_copy(str(src), 3_000_000)
    cl = store.chunk_list(oid)
    index = midx.Midx(str(tmp_path / "cache" / "packs" / midx.NAME))
    try:
        assert set(index.packs) == set(store.packs.pack_ids())
        assert all(index.find(c) is not None for c in cl.ids())
    finally:
        index.close()


def _stored_files(store: ObjectStore) -> list[str]:
    """Every file the add left in the cache (packs, indexes, lists, temps)."""
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def test_a_copy_into_a_pack_that_fails_midway_stops_the_add_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the copying thread fails on its second run while the other threads cut and hash on
    import errno

    from cairn.errors import DiskFullError
    from cairn.objects import localpacks

    monkeypatch.setattr(chunks, "_BLOCK", 300_000)
    monkeypatch.setattr(chunks, "_RUN", 200_000)
    real = localpacks._copy_range
    calls = []

    def full_disk_on_the_second(src: int, dst, offset: int, length: int) -> None:
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst, offset, length)

    monkeypatch.setattr(localpacks, "_copy_range", full_disk_on_the_second)
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    src = tmp_path / "f.bin"
    src.write_bytes(random.Random(9).randbytes(4_000_000))

    with pytest.raises(DiskFullError, match="no space left on device"):
        store.add_file_copy(str(src), 4_000_000)

    assert len(calls) >= 2
    assert not [f for f in _stored_files(store) if not f.startswith("objects/")]  # no pack, list or temp


def test_a_file_changed_during_a_chunked_add_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.errors import PathError

    monkeypatch.setattr(chunks, "_BLOCK", 300_000)
    src = tmp_path / "f.bin"
    src.write_bytes(random.Random(10).randbytes(3_000_000))
    real = chunks._blocks

    def blocks_then_append(f, count: int):
        for k, block in enumerate(real(f, count)):
            yield block
            if k == 2:
                with open(src, "r+b") as w:  # someone rewrites a part already read
                    w.write(b"x" * 1000)
                os.utime(src, ns=(1, 1))

    monkeypatch.setattr(chunks, "_blocks", blocks_then_append)
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))

    with pytest.raises(PathError, match="changed while cairn was adding it"):
        store.add_file_copy(str(src), 3_000_000)

    assert not [f for f in _stored_files(store) if not f.startswith("objects/")]


def test_runs_located_at_once_are_those_located_chunk_by_chunk(tmp_path: Path) -> None:
    """A checkout locates a file's chunks with one dict of the multi-pack index and finds its
    runs column by column (no Python loop per chunk): the runs are those found chunk by chunk,
    across packs, with chunks repeated in the file and chunks shared with the version before."""
    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20), pack_target=700_000)
    rng = random.Random(9)
    block = rng.randbytes(400_000)  # twice in the file: its inner chunks repeat
    v1 = rng.randbytes(1_500_000) + block + rng.randbytes(300_000) + block + rng.randbytes(800_000)
    v2 = v1[:1_000_000] + rng.randbytes(100_000) + v1[1_100_000:]  # a region rewritten
    oids = []
    for data in (v1, v2):
        src = tmp_path / "f.bin"
        src.write_bytes(data)
        oids.append(store.add_file_copy(str(src), len(data)))

    assert len(list((tmp_path / "cache" / "packs").glob("*.pack"))) > 2
    fresh = ObjectStore(tmp_path / "cache")  # a new process: the multi-pack index read from disk
    for oid, data in zip(oids, (v1, v2), strict=True):
        cl = fresh.chunk_list(oid)
        assert cl is not None
        ids, sizes = cl.id_rows()
        assert [(i.hex(), n) for i, n in zip(ids, sizes, strict=True)] == list(cl.chunks)
        assert len(set(ids)) < len(ids)  # repeated chunks
        assert fresh.packs.locate_ids(ids) is not None  # the way a checkout takes

        at_once = chunks._segments(fresh, cl, "f.bin")
        each = chunks._segments_each(fresh, chunks.ChunkList(oid, cl.size, tuple(cl.chunks)), "f.bin")
        assert at_once == each and len({key for key, _, _ in at_once}) > 1
        out = tmp_path / "out.bin"
        with open(out, "wb") as f:
            chunks.copy_into(fresh, cl, f.fileno(), "f.bin")
        assert out.read_bytes() == data


def test_locating_at_once_gives_way_when_a_chunk_is_not_packed(tmp_path: Path) -> None:
    from cairn.objects import midx

    store = ObjectStore(tmp_path / "cache", chunks.Chunking(enabled=True, min_size=1 << 20))
    src = tmp_path / "f.bin"
    src.write_bytes(random.Random(10).randbytes(2_000_000))
    cl = store.chunk_list(store.add_file_copy(str(src), 2_000_000))
    assert cl is not None
    ids, _ = cl.id_rows()
    index = midx.Midx(str(tmp_path / "cache" / "packs" / midx.NAME))
    try:
        numbers, offsets, sizes = index.columns_for(ids)
        assert [(index.packs[p], o, n) for p, o, n in zip(numbers, offsets, sizes, strict=True)] == [
            index.find(c) for c, _ in cl.chunks
        ]
        assert index.columns_for([*ids, b"\0" * 32]) is None  # one not packed (loose, or missing)
    finally:
        index.close()
