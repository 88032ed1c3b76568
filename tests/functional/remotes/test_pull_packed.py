"""fetch and pull land small objects in local packs, as `cairn add` stores them (docs/formats.md,
"Local packs"): a team of two clones of a bare origin sharing a folder remote; the clone that
pulls gets its small files packed, not one loose object each, and checkout, fsck and gc work on
them. Large files and link modes stay loose, as add decides; trees are written last."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from remote_helpers import BIG_SIZE, b3, workspace_files

from cairn.errors import CorruptObjectError

local_only = pytest.mark.parametrize("remote", ["local"], indirect=True)


def small_files(count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"data/d{i % 4}/e{i % 3}/f{i:04d}.bin": rng.randbytes(rng.randint(1, 6000)) for i in range(count)}


@pytest.fixture
def team(repo, remote, git, tmp_path: Path):
    """(alice, make_clone): alice's project pushed to a bare origin (git) and to the remote
    (cairn); make_clone(name) clones origin as a teammate would."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    files = small_files(240, 1)
    files["data/big.bin"] = random.Random(2).randbytes(BIG_SIZE)  # above 2 MiB: loose
    files["data/d0/empty.bin"] = b""
    repo.write(files)
    remote.configure(repo)
    repo.cairn("add", "data")
    repo.commit("data v1")
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    repo.cairn("push")
    repo.files = files

    def make_clone(name: str):
        dest = tmp_path / name
        git("clone", "-q", str(origin), str(dest), cwd=tmp_path)
        git("config", "user.name", "Bob", cwd=dest)
        git("config", "user.email", "bob@example.com", cwd=dest)
        other = type(repo)(dest, repo._run_cairn, repo._git)
        remote.credentials(other)
        return other

    return repo, make_clone


def _small_oids(files: dict[str, bytes]) -> set[str]:
    return {b3(v) for v in files.values() if len(v) < 2 * 1024 * 1024}


def _assert_packed(project, files: dict[str, bytes]) -> None:
    """Small files packed and not loose; loose: trees and the large file only."""
    small = _small_oids(files)
    packed = project.packed()
    assert small <= set(packed)
    assert not small & project.loose_oids()
    big = {b3(v) for v in files.values() if len(v) >= 2 * 1024 * 1024}
    assert project.loose_oids() == set(project.expected_trees("data")) | big
    packs = project.root / ".cairn" / "cache" / "packs"
    assert {p.stem for p in packs.glob("*.pack")} == {p.stem for p in packs.glob("*.idx")}
    project.assert_cache_sound()


def test_pull_into_a_fresh_clone_packs_small_files(team):
    alice, make_clone = team
    bob = make_clone("bob")

    pulled = bob.json("pull")

    assert pulled["missing"] == [] and pulled["corrupt"] == []
    assert workspace_files(bob.root, "data") == alice.files
    _assert_packed(bob, alice.files)
    assert bob.json("fsck")["ok"] is True
    bob.cairn("status", "-q")

    # checkout from the packs: byte for byte, executable bits and all
    shutil.rmtree(bob.root / "data")
    bob.cairn("checkout", "data.cairn")
    assert workspace_files(bob.root, "data") == alice.files
    bob.cairn("status", "-q")

    # gc keeps what the pointers use (nothing is unreferenced here)
    assert bob.json("gc")["remove"] == 0
    bob.cairn("gc", "--yes")
    _assert_packed(bob, alice.files)
    shutil.rmtree(bob.root / "data")
    bob.cairn("checkout", "data.cairn")
    assert workspace_files(bob.root, "data") == alice.files


@local_only
def test_a_pull_in_batches_of_a_few_files_places_every_file_and_counts_each_object_once(team, tmp_path):
    """A fetch plans and transfers a few folders' files at a time (fetch.BATCH: 32,768 files,
    7 here, through the real CLI), so a million files never have their plan and staged paths in
    memory at once. Every file is placed, copies of one file in folders of later batches too,
    each object is counted once, and the staged files' stat rows are recorded."""
    alice, make_clone = team
    copies = {f"data/copies/c{i:02d}.bin": alice.files[k] for i, k in enumerate(sorted(alice.files)[::30])}
    alice.write(copies)
    alice.cairn("add", "data")
    alice.commit("copies")
    alice.git("push", "-q", "origin", "main")
    alice.cairn("push")
    files = {**alice.files, **copies}
    bob = make_clone("bob")
    bob.cairn("config", "cache.pack_size", "16384")  # several local packs: one is unpacked below

    # the real console script, its fetch batches made small (and kept small where their range
    # requests spread over the packs) before it runs; each batch's size is logged
    patch, log = tmp_path / "small-batches", tmp_path / "batches.log"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(
        "import cairn.remotes.fetch as f\n"
        "f.BATCH, f._SPREAD = 7, 10**9\n"
        "files = f._Run.files\n"
        "def logged(self, items, frontier):\n"
        f"    open({str(log)!r}, 'a').write(f'{{len(items)}}\\n')\n"
        "    return files(self, items, frontier)\n"
        "f._Run.files = logged\n"
    )
    pulled = json.loads(bob.cairn("pull", "--json", env={"PYTHONPATH": str(patch)}).stdout)

    batches = [int(n) for n in log.read_text().split() if n != "0"]
    assert len(batches) >= 10 and max(batches) < 7 + 30, batches  # whole folders (20 files) at a time

    assert workspace_files(bob.root, "data") == files
    objects = {b3(v) for v in files.values()} | set(bob.expected_trees("data"))
    assert (pulled["transferred"], pulled["skipped"], pulled["missing"]) == (len(objects), 0, [])
    assert sorted(pulled["checkout"][0]["written"]) == sorted(files)
    _assert_packed(bob, files)
    assert bob.json("status")["changed"] is False
    assert bob.json("fsck")["ok"] is True

    # a cache that packs many objects is asked about them through a set of their ids (_SET_AT:
    # 131,072 packed objects; 0 here): one lost packed file is found absent and fetched again
    lost = b3(files["data/d1/e2/f0005.bin"])
    bob.object_path(lost).unlink()  # its pack made loose objects first; the other packs stay
    assert len(bob.packed()) > 100
    (patch / "sitecustomize.py").write_text("import cairn.remotes.fetch as f\nf.BATCH, f._SET_AT = 7, 0\n")
    again = json.loads(bob.cairn("fetch", "--json", env={"PYTHONPATH": str(patch)}).stdout)
    assert (again["transferred"], again["skipped"], again["missing"]) == (1, len(objects) - 1, [])
    assert lost in bob.cache_oids()
    bob.assert_cache_sound()


@local_only
def test_fetch_then_checkout_of_a_new_version_into_an_existing_workspace(team):
    """A second version fetched into a clone whose workspace has the folder (checkout writes
    every changed file from the packs); gc keeps both versions, which the history holds."""
    alice, make_clone = team
    bob = make_clone("bob")
    bob.cairn("pull")
    v2 = {k: v for k, v in alice.files.items() if "/d1/" not in k}  # d1 dropped
    v2.update(small_files(120, 3))  # half of the files rewritten, new ones added
    shutil.rmtree(alice.root / "data")
    alice.write(v2)
    alice.cairn("add", "data")
    alice.commit("data v2")
    alice.git("push", "-q", "origin", "main")
    alice.cairn("push")

    bob.git("pull", "-q", "origin", "main")
    fetched = bob.json("fetch")
    assert fetched["transferred"] > 0 and fetched["missing"] == []
    bob.cairn("checkout", "--force")

    assert workspace_files(bob.root, "data") == v2
    assert _small_oids(v2) <= set(bob.packed())
    assert not _small_oids(v2) & bob.loose_oids()
    assert bob.json("fsck")["ok"] is True
    nothing = bob.json("pull")
    assert nothing["transferred"] == 0

    bob.cairn("gc", "--yes")  # both versions are in the history: gc keeps both
    assert _small_oids(v2) | _small_oids(alice.files) <= set(bob.packed())
    assert bob.json("fsck")["ok"] is True
    shutil.rmtree(bob.root / "data")
    bob.cairn("checkout", "data.cairn")
    assert workspace_files(bob.root, "data") == v2
    bob.git("checkout", "-q", "HEAD~1", "--", "data.cairn")
    bob.cairn("checkout", "--force", "data.cairn")
    assert workspace_files(bob.root, "data") == alice.files


@local_only
def test_link_modes_keep_fetched_objects_loose(team):
    """A hard link needs a file: with cache.type hardlink the fetched small files stay loose
    objects and the workspace files are links to them, as an add in that mode would leave them."""
    alice, make_clone = team
    bob = make_clone("bob")
    bob.cairn("config", "cache.type", "hardlink,copy")

    bob.cairn("pull")

    assert workspace_files(bob.root, "data") == alice.files
    assert not bob.packed()
    assert _small_oids(alice.files) <= bob.loose_oids()
    some = bob.root / "data" / "d2" / "e2" / "f0002.bin"
    assert some.stat().st_nlink == 2
    assert bob.json("fsck")["ok"] is True


@local_only
def test_a_tree_is_written_only_with_everything_below_it(team, remote, assert_error):
    """One small file damaged on the remote: the fetch stores everything else (packed), writes the
    trees of the folders that are whole, and leaves out the trees above the damaged file, since a
    tree in the cache vouches for its files. Once alice repairs the remote, bob's pull completes."""
    alice, make_clone = team
    rel = "data/d1/e1/f0001.bin"
    oid = b3(alice.files[rel])
    assert remote.files.corrupt(oid).startswith("packs/")
    bob = make_clone("bob")

    proc = bob.cairn("pull", expect=None)

    assert_error(proc, CorruptObjectError, f"1 object(s) on remote 'store' are corrupt and were not used: {oid}")
    above = {alice.expected(p)[0] for p in ("data", "data/d1", "data/d1/e1")}
    whole = set(alice.expected_trees("data")) - above
    loose = bob.loose_oids()
    assert not above & loose
    assert whole <= loose
    assert (_small_oids(alice.files) - {oid}) <= set(bob.packed())
    bob.assert_cache_sound()

    alice.cairn("push", "--verify")
    bob.cairn("pull")
    assert workspace_files(bob.root, "data") == alice.files
    assert above <= bob.loose_oids()
    assert bob.json("fsck")["ok"] is True


@local_only
def test_many_small_packs_and_the_multi_pack_index(team):
    """With cache.pack_size small, a fetch seals many packs on the way; the multi-pack index
    written at its end lists them all, and the checkout reads through it."""
    alice, make_clone = team
    bob = make_clone("bob")
    bob.cairn("config", "cache.pack_size", "20000")

    bob.cairn("pull")

    packs = bob.root / ".cairn" / "cache" / "packs"
    assert len(list(packs.glob("*.idx"))) > 10
    for idx in packs.glob("*.idx"):
        rows = json.loads(idx.read_bytes())["objects"]
        assert sum(size for _, _, size in rows) == idx.with_suffix(".pack").stat().st_size
    midx = (packs / "multi.midx").read_bytes()
    assert midx[:8] == b"CAIRNMIX"
    assert int.from_bytes(midx[12:16], "little") == len(list(packs.glob("*.idx")))
    shutil.rmtree(bob.root / "data")
    bob.cairn("checkout", "data.cairn")
    assert workspace_files(bob.root, "data") == alice.files
    assert os.listdir(bob.root / ".cairn" / "cache" / "tmp") == []
