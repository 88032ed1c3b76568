"""Small files in local packs (issue 22): `cairn add` with cache.type copy puts files below 2 MiB
into `<cache>/packs/` instead of one loose object each; checkout, gc, fsck, push and pull read
them there, and caches of loose objects from before keep working next to them."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
from pathlib import Path

from blake3 import blake3

SMALL_PACKED = 2 * 1024 * 1024  # docs/formats.md, "Local packs"


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def small_files(count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"data/d{i % 5}/f{i:04d}.bin": rng.randbytes(rng.randint(1, 8192)) for i in range(count)}


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_add_packs_small_files_and_keeps_trees_and_large_files_loose(repo):
    files = small_files(200, 1)
    files["data/big.bin"] = random.Random(2).randbytes(SMALL_PACKED)  # at the threshold: loose
    files["data/d0/empty.bin"] = b""
    repo.write(files)

    repo.cairn("add", "data")

    packed = repo.packed()
    small = {b3(v) for k, v in files.items() if k != "data/big.bin"}
    assert set(packed) == small
    assert repo.loose_oids() == set(repo.expected_trees("data")) | {b3(files["data/big.bin"])}
    packs = repo.root / ".cairn" / "cache" / "packs"
    assert {p.stem for p in packs.glob("*.pack")} == {p.stem for p in packs.glob("*.idx")}
    repo.assert_cache_sound()
    assert repo.json("fsck")["ok"] is True
    repo.cairn("status", "-q")  # unchanged: exit 0


def test_checkout_restores_packed_files_byte_for_byte(repo):
    files = small_files(300, 3)
    repo.write(files)
    os.chmod(repo.root / "data/d1/f0001.bin", 0o755)
    repo.cairn("add", "data")
    assert repo.packed()
    shutil.rmtree(repo.root / "data")

    repo.cairn("checkout", "data.cairn")

    assert read_tree(repo.root / "data") == {k[5:]: v for k, v in files.items()}
    assert os.stat(repo.root / "data/d1/f0001.bin").st_mode & 0o100
    assert not os.stat(repo.root / "data/d1/f0006.bin").st_mode & 0o100
    repo.cairn("status", "-q")


def test_link_modes_copy_packed_objects_out(repo):
    files = small_files(20, 4)
    repo.write(files)
    repo.cairn("add", "data")
    shutil.rmtree(repo.root / "data")
    repo.cairn("config", "cache.type", "hardlink,copy")

    repo.cairn("checkout", "data.cairn")

    assert read_tree(repo.root / "data") == {k[5:]: v for k, v in files.items()}
    for p in (repo.root / "data").rglob("*.bin"):
        assert p.stat().st_nlink == 1  # a copy: there is no loose object to link to
        p.write_bytes(b"edited")  # and a writable one: the cache cannot be damaged through it
    assert repo.json("fsck")["ok"] is True


def test_corrupt_packed_object_is_never_checked_out_and_fsck_names_it(repo, assert_error):
    files = small_files(10, 5)
    repo.write(files)
    repo.cairn("add", "data")
    oid = b3(files["data/d2/f0002.bin"])
    pid, off, size = repo.packed()[oid]
    pack = repo.root / ".cairn" / "cache" / "packs" / f"{pid}.pack"
    pack.chmod(0o644)
    with open(pack, "r+b") as f:
        f.seek(off)
        flipped = bytes(b ^ 0xFF for b in f.read(size))
        f.seek(off)
        f.write(flipped)
    shutil.rmtree(repo.root / "data")

    proc = repo.cairn("checkout", "data.cairn", expect=None)

    assert proc.returncode != 0
    assert oid in proc.stderr
    assert oid in repo.json("fsck", expect=None)["corrupt"]


def test_gc_drops_unreferenced_packed_objects_and_keeps_referenced_ones(repo):
    v1 = small_files(100, 6)
    repo.write(v1)
    repo.cairn("add", "data")
    shutil.rmtree(repo.root / "data")
    v2 = small_files(100, 7)
    repo.write(v2)
    repo.cairn("add", "data")  # v1 was never committed: unreferenced
    repo.commit("v2")
    both = repo.packed()
    assert {b3(v) for v in v1.values()} <= set(both) and {b3(v) for v in v2.values()} <= set(both)

    repo.cairn("gc", "--yes")

    left = repo.packed()
    assert set(left) == {b3(v) for v in v2.values()}
    assert repo.json("fsck")["ok"] is True
    shutil.rmtree(repo.root / "data")
    repo.cairn("checkout", "data.cairn")
    assert read_tree(repo.root / "data") == {k[5:]: v for k, v in v2.items()}


def test_push_then_pull_into_a_fresh_clone_round_trips(repo, git, tmp_path):
    files = small_files(150, 8)
    repo.write(files)
    repo.cairn("remote", "add", "-d", "store", str(tmp_path / "remote"))
    repo.cairn("add", "data")
    repo.commit("data")
    assert repo.packed()

    repo.cairn("push")
    git("clone", "-q", str(repo.root), str(tmp_path / "other"), cwd=tmp_path)
    other = tmp_path / "other"
    pulled = subprocess_json(repo, ["pull"], cwd=other)

    assert pulled["missing"] == [] and pulled["corrupt"] == []
    assert read_tree(other / "data") == {k[5:]: v for k, v in files.items()}


def subprocess_json(repo, args: list[str], cwd: Path) -> dict:
    import json

    return json.loads(repo.cairn(*args, "--json", cwd=cwd).stdout)


def test_a_cache_of_loose_objects_from_before_mixes_with_packed_ones(repo):
    v1 = small_files(60, 9)
    repo.write(v1)
    repo.cairn("add", "data")
    repo.commit("v1")
    for oid in list(repo.packed()):
        repo.object_path(oid)  # unpacked: the loose objects an older cairn wrote
    assert not repo.packed()
    v2 = {**v1, **{k.replace("f0", "g0"): v for k, v in small_files(30, 10).items()}}
    repo.write(v2)
    repo.cairn("add", "data")
    repo.commit("v2")
    new = {b3(v) for v in v2.values()} - {b3(v) for v in v1.values()}
    assert set(repo.packed()) == new  # only what the loose cache lacked was written
    assert repo.json("fsck")["ok"] is True

    repo.git("checkout", "-q", "HEAD~1", "--", "data.cairn")
    repo.cairn("checkout", "data.cairn")
    assert read_tree(repo.root / "data") == {k[5:]: v for k, v in v1.items()}
    repo.git("checkout", "-q", "HEAD", "--", "data.cairn")
    repo.cairn("checkout", "data.cairn")
    assert read_tree(repo.root / "data") == {k[5:]: v for k, v in v2.items()}


def test_push_builds_each_remote_pack_from_one_stretch_of_a_local_pack(repo, tmp_path):
    # objects in id order would take every remote pack from all over the local packs (issue
    # 22: a push of 1M files read its cache many times over); in the cache's order each one is
    # a run of one local pack, which also keeps a folder's files together on the remote
    files = small_files(300, 11)
    repo.write(files)
    remote = tmp_path / "remote"
    repo.cairn("remote", "add", "-d", "store", str(remote))
    repo.cairn("remote", "modify", "store", "pack_size", "100000")
    repo.cairn("add", "data")
    repo.commit("data")
    local = repo.packed()

    repo.cairn("push")

    stretches = []
    for idx in sorted((remote / "packs").glob("*.idx")):
        rows = sorted(json.loads(idx.read_bytes())["objects"], key=lambda r: r[1])  # remote offset order
        at = [local[oid] for oid, _, _ in rows if oid in local]  # (local pack, offset, size)
        if not at:
            continue  # a pack of trees (loose in the cache)
        assert len({p for p, _, _ in at}) == 1
        assert [off for _, off, _ in at] == sorted(off for _, off, _ in at)
        stretches.append((at[0][1], at[-1][1]))
    stretches.sort()
    assert len(stretches) > 5
    assert all(a[1] < b[0] for a, b in itertools.pairwise(stretches))  # none interleaved
    assert sum(len(json.loads(i.read_bytes())["objects"]) for i in (remote / "packs").glob("*.idx")) >= len(local)
