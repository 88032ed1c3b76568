"""`cairn gc --remote NAME`: a dry run by default, then --yes removes what no branch, tag,
experiment ref or the workspace references, repacking packs that are partly in use; referenced
data is kept, also when gc runs in a fresh clone that never pulled (it reads trees from the remote)."""

from __future__ import annotations

import os
import time

import pytest
from blake3 import blake3
from remote_helpers import b3, objects_of, workspace_files

from cairn.errors import RemoteError

TRACKED = ("data", "model.bin")
# What only pushes recorded and what was just written are kept by default (root records, the
# grace period); these tests collect that too, as a policy that forgets every record would.
FORGET_ALL = ("--grace", "0", "--forget-older-than", "0")
local_only = pytest.mark.parametrize("remote", ["local"], indirect=True)


def _push_garbage(source) -> tuple[dict[str, int], set[str]]:
    """Push v1 (committed) and v2 (workspace only) in one push, so that packs mix objects of
    both, then go back to v1. Returns (v1's objects, the objects only v2 had: the garbage)."""
    v1 = objects_of(source, *TRACKED)
    changed = {rel: data + b" v2" for rel, data in sorted(source.files.items())[::3] if rel.startswith("data/")}
    changed["data/big.bin"] = source.files["data/big.bin"][:-1] + b"!"  # a loose object becomes garbage too
    source.write(changed)
    source.cairn("add", "data")
    v2 = objects_of(source, *TRACKED)
    source.cairn("push", "--all-commits")
    source.git("checkout", "--", "data.cairn")
    source.cairn("checkout")
    assert workspace_files(source.root, *TRACKED) == source.files
    return v1, set(v2) - set(v1)


@local_only
def test_gc_remote_dry_run_then_yes(source, remote, clone):
    v1, garbage = _push_garbage(source)
    files = remote.files
    assert files.held() == set(v1) | garbage
    before = files.keys()

    plan = source.json("gc", "--remote", "store", *FORGET_ALL)
    assert plan["remove"] == len(garbage)
    assert plan["keep"] == len(v1)
    assert plan["repack"] >= 1  # packs holding both kept and removed objects
    assert plan["delete_loose"] == 1
    assert plan["removed"] == 0
    assert files.keys() == before  # a dry run changes nothing
    proc = source.cairn("gc", "--remote", "store", *FORGET_ALL)
    forgets = [ln for ln in proc.stdout.splitlines() if ln.startswith("Would forget the root record of a push by ")]
    assert len(forgets) == 1 and "(refs/heads/main; 3 roots)" in forgets[0]
    assert f"\nWould remove {len(garbage)} objects (" in proc.stdout
    assert proc.stdout.endswith(
        f" from 'store'; {len(v1)} in use are kept.\n"
        "Run `cairn gc --remote store --yes` (with the same options) to remove them.\n"
    )
    # Without the policy, the push's root record and the grace period keep it all.
    assert source.json("gc", "--remote", "store")["remove"] == 0

    proc = source.cairn("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert f"\nRemoved {len(garbage)} objects from 'store', " in proc.stdout
    assert files.held() == set(v1)
    files.assert_sound()
    packs = files.packs()
    assert {k for k in files.keys() if k.endswith(".pack")} == {f"packs/{p}.pack" for p in packs}  # noqa: SIM118
    assert (
        source.cairn("gc", "--remote", "store").stdout == f"Nothing to remove on 'store' ({len(v1)} objects in use).\n"
    )
    # The pushing clone's idea of the remote is still right: nothing to push.
    assert source.json("push")["transferred"] == 0

    other = clone(source, "other")
    other.cairn("pull")
    assert workspace_files(other.root, *TRACKED) == source.files


@pytest.mark.parametrize("remote", ["local", pytest.param("s3", marks=pytest.mark.slow)], indirect=True)
def test_gc_remote_from_a_fresh_clone_that_never_pulled(source, remote, clone):
    v1, garbage = _push_garbage(source)
    other = clone(source, "other", remote)
    assert other.cache_oids() == set()

    plan = other.json("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert (plan["remove"], plan["keep"], plan["removed"]) == (len(garbage), len(v1), len(garbage))
    assert remote.files.held() == set(v1)
    remote.files.assert_sound()
    assert other.cache_oids() == set()  # it read the trees it needed from the remote, without caching them

    third = clone(source, "third", remote)
    assert third.json("pull")["transferred"] == len(v1)
    assert workspace_files(third.root, *TRACKED) == source.files


def test_gc_remote_keeps_branches_tags_and_experiments(repo, local_remote):
    local_remote.configure(repo)
    versions = {}

    def version(name: str) -> dict[str, int]:
        repo.write({"data/common.bin": b"c" * 50, "data/own.bin": name.encode()})
        repo.cairn("add", "data")
        versions[name] = objects_of(repo, "data")
        return versions[name]

    version("main-old")
    repo.commit("old")
    repo.git("checkout", "-q", "-b", "feature")
    version("feature")
    repo.commit("feature")
    repo.git("checkout", "-q", "--detach", "main")
    version("tagged")
    repo.commit("tagged")
    repo.git("tag", "t1")
    version("experiment")
    exp = repo.commit("an experiment")
    repo.git("update-ref", "refs/cairn/exps/ab/exp-1", exp)
    repo.git("checkout", "-q", "main")
    version("main")
    repo.commit("main")
    version("workspace")  # tracked, not committed
    version("garbage")
    repo.cairn("push", "--all-commits")
    version("workspace")
    repo.cairn("push")

    kept = set().union(*(set(v) for name, v in versions.items() if name != "garbage"))
    garbage = set(versions["garbage"]) - kept
    assert len(garbage) == 2  # its own file and its tree
    assert local_remote.files.held() == kept | garbage
    plan = repo.json("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert (plan["remove"], plan["keep"]) == (len(garbage), len(kept))
    assert local_remote.files.held() == kept


def test_gc_remote_in_a_clone_keeps_branches_it_only_knows_from_origin(repo, local_remote, clone):
    local_remote.configure(repo)
    repo.write({"data/a.bin": b"main"})
    repo.cairn("add", "data")
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write({"data/a.bin": b"feature"})
    repo.cairn("add", "data")
    repo.commit("feature")
    feature = objects_of(repo, "data")
    repo.cairn("push", "--all-branches")
    repo.git("checkout", "-q", "main")

    other = clone(repo, "other")  # has origin/feature, no local branch feature
    plan = other.json("gc", "--remote", "store")
    assert plan["remove"] == 0
    assert set(feature) <= local_remote.files.held()


@local_only
def test_gc_remote_refuses_when_a_referenced_tree_is_nowhere(source, remote, clone, assert_error):
    source.cairn("push")
    source.write({"data/s0/new.bin": b"never pushed"})
    source.cairn("add", "data")
    source.commit("v2, not pushed")
    other = clone(source, "other")  # knows v2's pointer, has no data; the remote lacks v2's trees
    before = remote.files.keys()

    proc = other.cairn("gc", "--remote", "store", "--yes", expect=None)
    assert_error(
        proc,
        RemoteError,
        "1 referenced folder version(s) are neither in the cache nor on remote 'store', so what they contain "
        "cannot be told apart from garbage; nothing was removed",
        "push them from a clone that has them (`cairn push --all-commits`), then run gc again",
    )
    head = source.git("rev-parse", "HEAD").strip()
    assert f"(referenced by data.cairn at {head[:10]}, the workspace)" in proc.stderr
    assert remote.files.keys() == before
    # The fix it names works.
    source.cairn("push", "--all-commits")
    plan = other.json("gc", "--remote", "store")
    assert plan["remove"] == 0


@local_only
def test_gc_remote_on_an_empty_remote(source, remote):
    proc = source.cairn("gc", "--remote", "store")
    assert proc.stdout == "Nothing to remove on 'store' (0 objects in use).\n"


@pytest.mark.parametrize("remote", ["local", "s3"], indirect=True)
def test_a_clone_that_trusts_its_index_notices_gc_from_another_clone(source, remote, clone):
    """A push with nothing to do trusts what the clone remembers of the remote; gc elsewhere
    changes the remote's generation, so the next push lists the remote and sends again what
    the other clone's gc removed (here: a version only this clone's workspace references)."""
    v1 = objects_of(source, *TRACKED)
    source.cairn("push")
    other = clone(source, "other", remote)
    source.write({"data/s0/only-here.bin": b"not committed anywhere"})
    source.cairn("add", "data")
    source.cairn("push")
    only_here = set(objects_of(source, *TRACKED)) - set(v1)
    assert source.json("push")["transferred"] == 0

    plan = other.json("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert plan["removed"] == len(only_here)
    assert not only_here & remote.files.held()

    assert source.json("push")["transferred"] == len(only_here)
    assert remote.files.held() == set(v1) | only_here
    assert source.json("push")["transferred"] == 0


def _fake_pack(remote_files, data: bytes) -> str:
    pack_id = blake3(data).hexdigest()
    remote_files.write(f"packs/{pack_id}.pack", data)
    return pack_id


@local_only
def test_gc_remote_removes_packs_a_killed_push_left_without_an_index(source, remote):
    """A push uploads a pack, then its index; killed in between, it leaves a pack nothing
    indexes. gc removes those once they are an hour old; a younger one may belong to a push
    that is still running and is kept."""
    source.cairn("push")
    before = remote.files.held()
    old = _fake_pack(remote.files, b"left by a push killed yesterday")
    young = _fake_pack(remote.files, b"a push is writing this index right now")
    hours_ago = time.time() - 2 * 3600
    os.utime(remote.files.folder / f"packs/{old}.pack", (hours_ago, hours_ago))

    plan = source.json("gc", "--remote", "store")
    assert (plan["orphan_packs"], plan["orphan_packs_kept"], plan["remove"]) == (1, 1, 0)
    proc = source.cairn("gc", "--remote", "store")
    assert "Would also remove: 1 pack(s) left without an index by an interrupted push." in proc.stdout
    assert proc.stderr == (
        "note: 1 pack(s) without an index are less than an hour old and were kept (a push may still be writing them)\n"
    )
    source.cairn("gc", "--remote", "store", "--yes")
    keys = remote.files.keys()
    assert f"packs/{old}.pack" not in keys and f"packs/{young}.pack" in keys
    assert remote.files.held() == before
    remote.files.assert_sound()


@local_only
def test_gc_remote_removes_temp_files_a_killed_transfer_left(source, remote):
    """A folder remote (like ssh) writes every key to .tmp/ and then moves it into place; a
    push killed mid-write leaves the temp file. It is never taken for data, and gc removes
    it once an hour old (a younger one may be a write in progress)."""
    source.cairn("push")
    before = remote.files.held()
    tmp = remote.files.folder / ".tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "123-456-1").write_bytes(b"half of a pack, written by a push killed yesterday")
    (tmp / "123-456-2").write_bytes(b"a push is writing this right now")
    hours_ago = time.time() - 2 * 3600
    os.utime(tmp / "123-456-1", (hours_ago, hours_ago))
    assert source.json("push")["transferred"] == 0  # not data: nothing changes for a push

    plan = source.json("gc", "--remote", "store")
    assert (plan["temp_keys"], plan["temp_keys_kept"], plan["remove"]) == (1, 1, 0)
    proc = source.cairn("gc", "--remote", "store")
    assert "Would also remove: 1 temporary file(s) left by an interrupted transfer." in proc.stdout
    assert "note: 1 temporary file(s) are less than an hour old and were kept" in proc.stderr
    source.cairn("gc", "--remote", "store", "--yes")
    assert sorted(os.listdir(tmp)) == ["123-456-2"]
    assert remote.files.held() == before
    remote.files.assert_sound()


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_gc_remote_keeps_a_young_pack_without_an_index_on_s3(source, remote):
    source.cairn("push")
    young = _fake_pack(remote.files, b"a push is writing this index right now")
    plan = source.json("gc", "--remote", "store", "--yes")
    assert (plan["orphan_packs"], plan["orphan_packs_kept"]) == (0, 1)
    keys = remote.files.keys()
    assert f"packs/{young}.pack" in keys


@local_only
def test_gc_remote_removes_an_index_whose_pack_is_gone(source, remote):
    source.cairn("push")
    pack_id = sorted(remote.files.packs())[0]
    remote.files.delete(f"packs/{pack_id}.pack")
    plan = source.json("gc", "--remote", "store", "--yes")
    assert plan["stale_indexes"] == 1
    keys = remote.files.keys()
    assert f"packs/{pack_id}.idx" not in keys
    source.cairn("push")  # the generation changed: the lost objects are sent again
    remote.files.assert_sound()
    assert remote.files.held() == set(objects_of(source, *TRACKED))


TRAIN = """
stages:
  train:
    cmd: cat data.csv > model.out
    deps: [data.csv]
    outs: [model.out]
"""


def test_gc_remote_keeps_run_cache_entries_whose_outputs_it_keeps(repo, local_remote, clone):
    """Shared run-cache entries keep nothing alive (as in the local gc): an entry goes with the
    outputs gc removes, so `pull --run-cache` never gets an entry it cannot restore."""
    local_remote.configure(repo)
    (repo.root / "cairn.yaml").write_text(TRAIN.lstrip())
    repo.write({"data.csv": b"v1"})
    repo.cairn("repro")
    repo.commit("v1")
    kept = b3(b"v1")
    repo.write({"data.csv": b"v2"})
    repo.cairn("repro")  # a second run, never committed
    repo.cairn("push", "--run-cache")
    runs = {k for k in local_remote.files.keys() if k.startswith("runs/")}  # noqa: SIM118 - not a dict
    assert len(runs) == 2
    local_remote.files.write(f"runs/{'0' * 64}.json", b"not an entry")
    repo.git("checkout", "--", "cairn.lock", "data.csv")  # the workspace is back at v1

    plan = repo.json("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert (plan["delete_runs"], plan["keep_runs"], plan["remove"]) == (2, 1, 1)
    left = {k for k in local_remote.files.keys() if k.startswith("runs/")}  # noqa: SIM118 - not a dict
    assert len(left) == 1 and left < runs
    assert local_remote.files.held() >= {kept} and b3(b"v2") not in local_remote.files.held()

    other = clone(repo, "other")
    assert "1 run-cache entry pulled." in other.cairn("pull", "--run-cache").stdout
    assert (other.root / "model.out").read_bytes() == b"v1"
