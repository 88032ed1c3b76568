"""Large files as content-defined chunks (docs/chunks.md): add stores only new chunks, checkout
rebuilds the file, gc and fsck count and check chunks, damage is named, old caches keep working.
Files are a few MiB with a low `cache.chunking.min_size`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from blake3 import blake3

import cairn.api
from cairn.errors import CorruptObjectError, ObjectMissingError

MIN_SIZE = 256 * 1024


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def edit(data: bytes, at: int, length: int) -> bytes:
    return data[:at] + bytes(length) + data[at + length :]


@pytest.fixture
def chunked(repo):
    repo.cairn("config", "cache.chunking.enabled", "true")
    repo.cairn("config", "cache.chunking.min_size", str(MIN_SIZE))
    return repo


def chunk_list(repo, oid: str) -> dict:
    return json.loads((repo.root / ".cairn" / "cache" / "chunks" / oid[:2] / oid[2:]).read_bytes())


def packed(repo) -> dict[str, tuple[Path, int, int]]:
    """Chunk id -> (pack file, offset, size), read from the local packs' indexes."""
    out: dict[str, tuple[Path, int, int]] = {}
    for idx in (repo.root / ".cairn" / "cache" / "packs").glob("*.idx"):
        for oid, off, size in json.loads(idx.read_bytes())["objects"]:
            out[oid] = (idx.with_suffix(".pack"), off, size)
    return out


def stored(repo) -> set[str]:
    """Every object in the cache, loose or packed."""
    return repo.cache_oids() | set(packed(repo))


def chunk_bytes(repo, oid: str) -> bytes:
    where = packed(repo).get(oid)
    if where is None:
        return repo.object_path(oid).read_bytes()
    path, off, size = where
    return path.read_bytes()[off : off + size]


def new_bytes(repo, before: set[str]) -> int:
    return sum(len(chunk_bytes(repo, o)) for o in stored(repo) - before)


def damage_packed(repo, oid: str) -> None:
    path, off, size = packed(repo)[oid]
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(b"x" * size)
    path.chmod(0o444)


def test_a_large_file_is_stored_as_chunks_under_its_whole_id(chunked):
    data = blob(3 << 20)
    chunked.write({"model.bin": data})

    chunked.cairn("add", "model.bin")

    oid = b3(data)
    assert chunked.pointer("model.bin")["oid"] == oid  # pointers do not see chunking
    assert not chunked.object_path(oid).exists()  # no whole copy
    doc = chunk_list(chunked, oid)
    assert doc["version"] == 1 and doc["oid"] == oid and doc["size"] == len(data)
    assert b"".join(chunk_bytes(chunked, c) for c, _ in doc["chunks"]) == data
    assert 20 < len(doc["chunks"]) < 100  # ~60 KiB chunks
    # packed: no file per chunk, the chunks in file order in one pack
    assert not chunked.cache_oids() & {c for c, _ in doc["chunks"]}
    packs = list((chunked.root / ".cairn" / "cache" / "packs").glob("*.pack"))
    assert len(packs) == 1 and packs[0].read_bytes() == data
    chunked.assert_cache_sound()
    assert chunked.cairn("status").stdout == "model.bin: unchanged\n\nData is up to date.\n"


def test_a_new_version_stores_only_the_chunks_that_changed_and_checks_out(chunked):
    v1 = blob(4 << 20)
    chunked.write({"model.bin": v1})
    chunked.cairn("add", "model.bin")
    chunked.commit("v1")
    before = stored(chunked)
    v2 = edit(edit(v1, 1 << 20, 20_000), 3 << 20, 20_000)
    chunked.write({"model.bin": v2})

    chunked.cairn("add", "model.bin")

    assert new_bytes(chunked, before) < len(v2) * 0.15
    chunked.commit("v2")
    chunked.git("checkout", "-q", "HEAD~1")
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v1
    chunked.git("checkout", "-q", "main")
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v2
    assert chunked.json("fsck")["ok"] is True


def test_appending_stores_about_the_appended_bytes(chunked):
    v1 = blob(3 << 20)
    chunked.write({"log.bin": v1})
    chunked.cairn("add", "log.bin")
    before = stored(chunked)
    chunked.write({"log.bin": v1 + blob(300_000, seed=1)})

    chunked.cairn("add", "log.bin")

    assert new_bytes(chunked, before) <= 300_000 + 512 * 1024  # the tail plus the chunk it joined


def test_chunking_can_be_turned_off_and_caches_mix_both_forms(chunked):
    chunked.cairn("config", "cache.chunking.enabled", "false")
    v1 = blob(2 << 20)
    chunked.write({"model.bin": v1})
    chunked.cairn("add", "model.bin")
    chunked.commit("v1")
    assert chunked.object_path(b3(v1)).read_bytes() == v1  # whole, as an older cairn stored it

    chunked.cairn("config", "cache.chunking.enabled", "true")
    v2 = edit(v1, 1000, 5000)
    chunked.write({"model.bin": v2})
    chunked.cairn("add", "model.bin")
    chunked.commit("v2")

    assert not chunked.object_path(b3(v2)).exists() and chunk_list(chunked, b3(v2))["size"] == len(v2)
    chunked.git("checkout", "-q", "HEAD~1")
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v1
    assert chunked.json("fsck")["ok"] is True


def test_gc_keeps_the_chunks_of_referenced_files_only(chunked):
    v1 = blob(2 << 20)
    chunked.write({"model.bin": v1})
    chunked.cairn("add", "model.bin")  # never committed
    v1_chunks = {c for c, _ in chunk_list(chunked, b3(v1))["chunks"]}
    v2 = blob(2 << 20, seed=5)
    chunked.write({"model.bin": v2})
    chunked.cairn("add", "model.bin")
    chunked.commit("v2")

    chunked.cairn("gc", "--yes")

    assert not (v1_chunks & stored(chunked))
    assert not (chunked.root / ".cairn" / "cache" / "chunks" / b3(v1)[:2] / b3(v1)[2:]).exists()
    (chunked.root / "model.bin").unlink()
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v2


def test_a_missing_chunk_is_named_and_nothing_is_written(chunked, assert_error):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    lost = chunk_list(chunked, b3(data))["chunks"][0][0]
    pack = packed(chunked)[lost][0]
    pack.with_suffix(".idx").unlink()  # the pack's index lost: none of its chunks is found
    (chunked.root / "model.bin").unlink()

    proc = chunked.cairn("checkout", expect=None)

    assert_error(
        proc,
        ObjectMissingError,
        f"model.bin cannot be rebuilt: its chunk {lost} is not in the cache",
        "run `cairn pull` (or `cairn fetch`) to bring the missing chunks from the remote",
    )
    assert not (chunked.root / "model.bin").exists()
    assert [p.name for p in chunked.root.iterdir() if p.name.startswith("model")] == ["model.bin.cairn"]
    assert lost in chunked.json("fsck", expect=None)["missing"]


def test_a_corrupt_chunk_is_named_and_the_workspace_file_is_left_alone(chunked, assert_error):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    bad = chunk_list(chunked, b3(data))["chunks"][3][0]
    damage_packed(chunked, bad)
    (chunked.root / "model.bin").write_bytes(b"keep me")

    proc = chunked.cairn("checkout", "--force", expect=None)

    assert_error(proc, CorruptObjectError, f"model.bin cannot be rebuilt: its chunk {bad} is corrupt")
    assert (chunked.root / "model.bin").read_bytes() == b"keep me"
    report = chunked.json("fsck", expect=None)
    assert bad in report["corrupt"] and b3(data) in report["corrupt"]  # the chunk and the whole file


def test_link_modes_keep_new_files_whole_and_copy_chunked_ones(chunked):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")  # copy mode: chunks
    chunked.cairn("config", "cache.type", "hardlink,copy")
    other = blob(2 << 20, seed=9)
    chunked.write({"other.bin": other})
    chunked.cairn("add", "other.bin")
    (chunked.root / "model.bin").unlink()

    chunked.cairn("checkout")

    assert (chunked.root / "model.bin").read_bytes() == data
    assert (chunked.root / "model.bin").stat().st_nlink == 1  # a copy: there is no whole object
    assert (chunked.root / "other.bin").stat().st_nlink == 2  # linked, so kept whole
    assert chunked.object_path(b3(other)).exists()
    assert (
        not (chunked.root / ".cairn" / "cache" / "chunks" / b3(other)[:2]).exists()
        or not (chunked.root / ".cairn" / "cache" / "chunks" / b3(other)[:2] / b3(other)[2:]).exists()
    )


def test_the_api_reads_and_streams_over_chunks(chunked, monkeypatch):
    data = blob(3 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    monkeypatch.chdir(chunked.root)

    assert cairn.api.read("model.bin") == data
    with cairn.api.open("model.bin", mode="rb") as f:
        assert f.read(10) == data[:10]
        f.seek(2_000_000)
        assert f.read(100_000) == data[2_000_000:2_100_000]
        f.seek(0)
        assert f.read() == data
