"""The chunker and chunk lists (objects/chunks.py): block-wise cutting equals one pass, lists are
checked as a format, a chunked file reads back through the store."""

from __future__ import annotations

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
    with pytest.raises(CorruptObjectError, match="has format version 2; this cairn reads 1"):
        chunks.decode(cl.encode().replace(b'"version":1', b'"version":2'), oid)
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
