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
from cairn.objects import chunks as chunking

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
    """The chunk list's fields, read by the library's decoder (the rows are binary since version 2)."""
    data = (repo.root / ".cairn" / "cache" / "chunks" / oid[:2] / oid[2:]).read_bytes()
    cl = chunking.decode(data, oid)
    head = json.loads(data.split(b"\n", 1)[0])
    return {"version": head["version"], "oid": cl.oid, "size": cl.size, "chunks": [list(r) for r in cl.chunks]}


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
    assert doc["version"] == 2 and doc["oid"] == oid and doc["size"] == len(data)
    assert b"".join(chunk_bytes(chunked, c) for c, _ in doc["chunks"]) == data
    assert 20 < len(doc["chunks"]) < 100  # ~60 KiB chunks
    # packed: no file per chunk, the chunks in file order in one pack
    assert not chunked.loose_oids() & {c for c, _ in doc["chunks"]}
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
    assert f"error: model.bin cannot be rebuilt: its chunk {bad}" in proc.stderr  # named as typed, not absolute
    assert (chunked.root / "model.bin").read_bytes() == b"keep me"
    report = chunked.json("fsck", expect=None)
    assert bad in report["corrupt"] and b3(data) in report["corrupt"]  # the chunk and the whole file


def test_a_corrupt_chunk_found_while_the_file_is_copied_leaves_no_file_and_no_temp(chunked, assert_error):
    """The kernel copies the packs' runs while another thread hashes them: a chunk damaged near
    the end is found after most of the file was copied, and still nothing stays behind."""
    # several packs (a pack is sealed after the run of chunks, of up to 8 MiB, that fills it)
    chunked.cairn("config", "cache.pack_size", str(1 << 20))
    data = blob(20 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    rows = chunk_list(chunked, b3(data))["chunks"]
    bad = rows[-2][0]
    damage_packed(chunked, bad)
    assert len({packed(chunked)[c][0] for c, _ in rows}) >= 3
    (chunked.root / "model.bin").unlink()
    tmp = chunked.root / ".cairn" / "cache" / "tmp"
    temps = set(tmp.iterdir()) if tmp.exists() else set()

    proc = chunked.cairn("checkout", expect=None)

    assert_error(proc, CorruptObjectError, f"model.bin cannot be rebuilt: its chunk {bad} is corrupt")
    assert sorted(p.name for p in chunked.root.iterdir() if not p.name.startswith(".")) == ["model.bin.cairn"]
    assert (set(tmp.iterdir()) if tmp.exists() else set()) == temps


def test_link_modes_keep_new_files_whole_and_copy_chunked_ones(chunked):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")  # copy mode: chunks
    chunked.cairn("config", "cache.type", "hardlink,copy")
    other = blob(2 << 20, seed=9)
    chunked.write({"other.bin": other})
    chunked.cairn("add", "other.bin")
    (chunked.root / "model.bin").unlink()

    out = chunked.cairn("checkout").stdout
    # the output says what was done: the chunked file was copied, though hardlink comes first
    assert "model.bin: 1 written, 0 removed (copy)" in out
    (chunked.root / "other.bin").unlink()
    assert "other.bin: 1 written, 0 removed (hardlink)" in chunked.cairn("checkout").stdout

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


def test_gc_rewrites_a_pack_that_is_mostly_garbage(chunked):
    gone, kept = blob(3 << 19, seed=1), blob(1 << 19, seed=2)
    chunked.write({"model.bin": gone + kept})
    chunked.cairn("add", "model.bin")  # never committed: one pack of both parts' chunks
    (first,) = packed_files(chunked)
    v2 = kept + blob(1 << 19, seed=3)
    chunked.write({"model.bin": v2})
    chunked.cairn("add", "model.bin")  # `kept`'s chunks stay in the first pack
    chunked.commit("v2")
    live = {c for c, _ in chunk_list(chunked, b3(v2))["chunks"]}
    assert live & set(packed(chunked)) and first.exists()

    plan = chunked.json("gc")  # without --yes: the plan only
    assert plan["packs"] == 1 and plan["remove"] > 0

    chunked.cairn("gc", "--yes")

    assert not first.exists() and not first.with_suffix(".idx").exists()
    assert live <= stored(chunked)  # the live chunks moved to a new pack
    assert not stored(chunked) - live  # the garbage went with the old pack
    (chunked.root / "model.bin").unlink()
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v2
    assert chunked.json("fsck")["ok"] is True


def test_fsck_delete_corrupt_takes_a_damaged_chunk_out_of_its_pack(chunked):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    bad = chunk_list(chunked, b3(data))["chunks"][2][0]
    damage_packed(chunked, bad)

    report = chunked.json("fsck", "--delete-corrupt", expect=None)

    assert bad in report["corrupt"] and b3(data) in report["corrupt"]
    assert bad not in stored(chunked) and len(packed(chunked)) > 20  # the other chunks kept
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")  # the add puts the lost chunk back
    assert chunked.json("fsck")["ok"] is True


def test_a_cache_written_by_an_older_cairn_keeps_working_mixed(chunked):
    """An older cairn kept whole objects and one file per chunk (no packs): both still read, and
    new chunks go to packs beside them."""
    from cairn.objects.store import ObjectStore

    whole, v1 = blob(200_000, seed=4), blob(2 << 20, seed=5)
    chunked.write({"model.bin": v1, "small.bin": whole})
    old = ObjectStore(chunked.root / ".cairn" / "cache")
    rows = []
    for piece in chunking.cut(str(chunked.root / "model.bin")):
        old.add_absent(piece, b3(piece))  # loose chunks, as an older cairn wrote them
        rows.append((b3(piece), len(piece)))
    old.write_list(chunking.ChunkList(b3(v1), len(v1), tuple(rows)))
    old.add_bytes(whole)
    chunked.cairn("add", "model.bin", "small.bin")  # both already in the cache: nothing new
    assert not packed(chunked)
    chunked.commit("v1")
    v2 = edit(v1, 500_000, 100_000)
    chunked.write({"model.bin": v2})

    chunked.cairn("add", "model.bin")

    new = set(packed(chunked))
    assert new and not new & {c for c, _ in rows}  # only the new chunks, packed
    assert {c for c, _ in chunk_list(chunked, b3(v2))["chunks"]} - new <= chunked.loose_oids()  # the rest loose
    chunked.commit("v2")
    (chunked.root / "model.bin").unlink()
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v2
    chunked.git("checkout", "-q", "HEAD~1")
    chunked.cairn("checkout")
    assert (chunked.root / "model.bin").read_bytes() == v1
    assert (chunked.root / "small.bin").read_bytes() == whole
    assert chunked.json("fsck")["ok"] is True


def test_what_an_older_cairn_sees_of_packed_chunks_is_a_missing_chunk(chunked, assert_error):
    """An older cairn does not know packs/: it looks for each chunk as a loose object and stops
    with the missing-chunk error before writing anything (docs/chunks.md). Hiding the packs
    shows the cache as it sees it."""
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    first = chunk_list(chunked, b3(data))["chunks"][0][0]
    cache = chunked.root / ".cairn" / "cache"
    (cache / "packs").rename(cache / "packs-hidden")
    (chunked.root / "model.bin").unlink()

    proc = chunked.cairn("checkout", expect=None)

    assert_error(proc, ObjectMissingError, f"model.bin cannot be rebuilt: its chunk {first} is not in the cache")
    assert not (chunked.root / "model.bin").exists()


def packed_files(repo) -> list[Path]:
    return sorted((repo.root / ".cairn" / "cache" / "packs").glob("*.pack"))


def test_a_damaged_pack_index_is_reported_by_fsck_and_deleted_with_its_pack(chunked):
    data = blob(2 << 20)
    chunked.write({"model.bin": data})
    chunked.cairn("add", "model.bin")
    (pack,) = packed_files(chunked)
    idx = pack.with_suffix(".idx")
    idx.chmod(0o644)
    idx.write_bytes(b"not json")

    report = chunked.json("fsck", "--delete-corrupt", expect=None)

    assert pack.stem in report["corrupt"] and b3(data) in report["corrupt"]  # the pack, and the file it held
    assert not pack.exists() and not idx.exists()
    chunked.cairn("add", "model.bin")  # the workspace still has the file: its chunks come back
    assert chunked.json("fsck")["ok"] is True


def test_data_stats_of_a_chunked_table_at_a_revision(chunked, assert_error):
    """A large CSV added with chunking on has no whole object: `data stats --rev` rebuilds it
    (verified) into a temporary file for the reading, and leaves neither it nor a whole copy
    behind. A chunked file that is no table is said to be one, not 'not on this machine'."""
    from cairn.errors import UserInputError

    rows = "".join(f"{i},{i % 7}\n" for i in range(60_000))
    chunked.write({"big.csv": ("a,b\n" + rows).encode(), "model.bin": blob(1 << 20)})
    chunked.cairn("add", "big.csv", "model.bin")
    chunked.commit("v1")
    chunked.write({"big.csv": b"a,b\n1,2\n"})  # the workspace moved on: the revision's bytes are only chunks
    doc = chunked.json("data", "stats", "big.csv", "--rev", "HEAD")
    oid = doc["oid"]
    assert (chunked.root / ".cairn" / "cache" / "chunks" / oid[:2] / oid[2:]).exists()
    assert doc["from"] == "computed" and doc["stats"]["rows"] == 60_000 and doc["stats"]["bytes"] > MIN_SIZE
    assert not chunked.object_path(oid).exists()  # no whole copy kept
    tmp = chunked.root / ".cairn" / "cache" / "tmp"
    assert not [p for p in tmp.iterdir() if p.name.startswith("stats.")] if tmp.exists() else True
    assert_error(
        chunked.cairn("data", "stats", "model.bin", "--rev", "HEAD", expect=None),
        UserInputError,
        "model.bin is not a table",
    )
