"""`cairn gc --remote NAME`: a dry run by default, then --yes removes what no branch, tag,
experiment ref or the workspace references, repacking packs that are partly in use; referenced
data is kept, also when gc runs in a fresh clone that never pulled (it reads trees from the remote)."""

from __future__ import annotations

import pytest
from remote_helpers import objects_of, workspace_files

from cairn.errors import RemoteError

TRACKED = ("data", "model.bin")
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

    plan = source.json("gc", "--remote", "store")
    assert plan["remove"] == len(garbage)
    assert plan["keep"] == len(v1)
    assert plan["repack"] >= 1  # packs holding both kept and removed objects
    assert plan["delete_loose"] == 1
    assert plan["removed"] == 0
    assert files.keys() == before  # a dry run changes nothing
    proc = source.cairn("gc", "--remote", "store")
    assert proc.stdout.startswith(f"Would remove {len(garbage)} objects (")
    assert proc.stdout.endswith(
        f" from 'store'; {len(v1)} in use are kept.\nRun `cairn gc --remote store --yes` to remove them.\n"
    )

    proc = source.cairn("gc", "--remote", "store", "--yes")
    assert proc.stdout.startswith(f"Removed {len(garbage)} objects from 'store', ")
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

    plan = other.json("gc", "--remote", "store", "--yes")
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
    plan = repo.json("gc", "--remote", "store", "--yes")
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
    assert remote.files.keys() == before
    # The fix it names works.
    source.cairn("push", "--all-commits")
    plan = other.json("gc", "--remote", "store")
    assert plan["remove"] == 0


@local_only
def test_gc_remote_on_an_empty_remote(source, remote):
    proc = source.cairn("gc", "--remote", "store")
    assert proc.stdout == "Nothing to remove on 'store' (0 objects in use).\n"
