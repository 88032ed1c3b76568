"""Files held as chunks on remotes (docs/chunks.md): push sends only missing chunks and the
list after them, a clone pulls and rebuilds the file, gc --remote keeps what is referenced."""

from __future__ import annotations

import random

from blake3 import blake3

import cairn.api
from cairn.objects import chunks

MIN_SIZE = 256 * 1024


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def test_push_sends_only_new_chunks_and_a_clone_pulls_the_file(repo, remote, clone):
    repo.cairn("config", "cache.chunking.enabled", "true")
    repo.cairn("config", "cache.chunking.min_size", str(MIN_SIZE))
    v1 = blob(3 << 20)
    repo.write({"model.bin": v1})
    repo.cairn("add", "model.bin")
    remote.configure(repo)
    repo.commit("v1")
    first = repo.json("push")
    assert first["bytes"] >= len(v1)
    v2 = v1[: 1 << 20] + bytes(30_000) + v1[(1 << 20) + 30_000 :]
    repo.write({"model.bin": v2})
    repo.cairn("add", "model.bin")
    repo.commit("v2")

    pending = repo.json("status", "--remote")["remote"]
    assert 30_000 <= pending["local_only_bytes"] < len(v2) * 0.15  # the new chunks, not the whole file

    second = repo.json("push")

    assert 0 < second["bytes"] < len(v2) * 0.15  # the changed chunks and the list
    assert second["missing"] == []
    status = repo.json("status", "--remote")["remote"]
    assert status["local_only"] == 0 and status["missing"] == 0 and status["local_only_bytes"] == 0

    other = clone(repo, "other", remote)
    other.cairn("pull")
    assert (other.root / "model.bin").read_bytes() == v2
    # the fetched chunks landed packed: no file per chunk
    chunk_ids = decode_list(other, blake3(v2).hexdigest()).ids()
    assert not chunk_ids & other.loose_oids() and list((other.root / ".cairn" / "cache" / "packs").glob("*.pack"))
    assert other.json("fsck")["ok"] is True
    other.git("checkout", "-q", "HEAD~1")
    other.cairn("pull")
    assert (other.root / "model.bin").read_bytes() == v1

    assert cairn.api.read("model.bin", repo=third_empty(repo, clone, remote), remote="store") == v2
    plan = repo.json("gc", "--remote", "store")
    assert plan["remove"] == 0  # every chunk of both versions is referenced
    third = clone(repo, "third", remote)
    third.cairn("pull")
    assert blake3((third.root / "model.bin").read_bytes()).hexdigest() == blake3(v2).hexdigest()


def third_empty(repo, clone, remote):
    """A clone with an empty cache: cairn.api reads the chunked file straight from the remote."""
    return clone(repo, "empty", remote).root


def decode_list(repo, oid: str) -> chunks.ChunkList:
    return chunks.decode((repo.root / ".cairn" / "cache" / "chunks" / oid[:2] / oid[2:]).read_bytes(), oid)
