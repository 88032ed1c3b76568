"""`cairn gc` (what is kept: workspace, every commit of branches, tags, experiment refs) and
`cairn fsck` (corrupt and missing objects)."""

from __future__ import annotations

import os

import pytest
from blake3 import blake3


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def has(out: object, expected: dict) -> bool:
    """JSON output stays stable: these keys with these values (new keys may be added)."""
    return isinstance(out, dict) and {k: out.get(k) for k in expected} == expected


def version(i: int) -> bytes:
    return b"version %d of x" % i


def test_gc_dry_run_reports_and_removes_nothing(repo, make_dataset):
    make_dataset(repo.root / "data", count=4, depth=0)
    repo.write({"data/x.bin": version(1)})
    repo.cairn("add", "data")  # never committed: replaced below, so unreferenced
    v1_trees = repo.expected_trees("data")
    repo.write({"data/x.bin": version(2)})
    repo.cairn("add", "data")
    unused = set(v1_trees) | {b3(version(1))}
    unused_bytes = sum(repo.object_path(o).stat().st_size for o in unused)
    assert unused_bytes < 1024
    before = repo.cache_oids()

    proc = repo.cairn("gc")

    kept = len(before) - len(unused)
    assert proc.stdout == (
        f"Would remove {len(unused)} objects ({unused_bytes} B); {kept} in use are kept.\n"
        "Run `cairn gc --yes` to remove them.\n"
    )
    assert repo.cache_oids() == before
    assert has(
        repo.json("gc"),
        {
            "remove": len(unused),
            "remove_bytes": unused_bytes,
            "keep": kept,
            "missing_trees": [],
            "objects": sorted(unused),
            "removed": 0,
        },
    )

    proc = repo.cairn("gc", "--yes")

    assert proc.stdout == f"Removed {len(unused)} objects, {unused_bytes} B freed.\n"
    assert repo.cache_oids() == before - unused
    assert repo.cairn("gc").stdout == f"Nothing to remove ({kept} objects in use).\n"
    assert "all good" in repo.cairn("fsck").stdout
    repo.cairn("status", "-q")


def test_gc_keeps_history_of_branches_tags_and_experiments(repo):
    def record(i: int, message: str) -> str:
        repo.write({"data/x.bin": version(i)})
        repo.cairn("add", "data")
        return repo.commit(message)

    record(1, "v1 on main")
    repo.git("checkout", "-q", "-b", "feature")
    record(2, "v2: only in feature's history")
    record(3, "v3: feature's tip")
    repo.git("checkout", "-q", "-b", "tagged", "main")
    record(4, "v4: only under a tag")
    repo.git("tag", "-a", "-m", "annotated", "keep-me")
    repo.git("checkout", "-q", "-b", "exp", "main")
    exp = record(5, "v5: only under an experiment ref")
    repo.git("update-ref", "refs/cairn/exps/ab/cd/exp-1", exp)
    repo.git("checkout", "-q", "-b", "doomed", "main")
    record(6, "v6: on a branch that will be deleted")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "tagged", "exp", "doomed")
    repo.cairn("checkout")
    repo.write({"data/y.bin": b"uncommitted work"})
    repo.cairn("add", "data")  # the workspace pointer references this version

    out = repo.json("gc", "--yes")

    present = repo.cache_oids()
    for i in (1, 2, 3, 4, 5):
        assert b3(version(i)) in present, f"version {i} was collected"
    assert b3(b"uncommitted work") in present
    assert b3(version(6)) not in present
    assert b3(version(6)) in out["objects"]
    assert out["removed"] == out["remove"] == 2  # v6's file and its tree
    # every version is still restorable
    repo.git("checkout", "-q", "-f", "keep-me")
    repo.cairn("checkout", "--force")
    assert (repo.root / "data" / "x.bin").read_bytes() == version(4)
    repo.git("checkout", "-q", "refs/cairn/exps/ab/cd/exp-1")
    repo.cairn("checkout")
    assert (repo.root / "data" / "x.bin").read_bytes() == version(5)
    repo.git("checkout", "-q", "feature~1")
    repo.cairn("checkout")
    assert (repo.root / "data" / "x.bin").read_bytes() == version(2)


def test_gc_notes_referenced_trees_missing_from_the_cache(repo, make_dataset):
    make_dataset(repo.root / "data", count=3)
    repo.cairn("add", "data")
    root_tree = repo.pointer("data")["oid"]
    repo.object_path(root_tree).unlink()

    proc = repo.cairn("gc")

    assert "note: 1 referenced folder version(s) are not in the cache" in proc.stderr
    assert repo.json("gc")["missing_trees"] == [root_tree]


def test_gc_yes_sweeps_stale_temp_files_only(repo):
    repo.write({"f.bin": b"f"})
    repo.cairn("add", "f.bin")
    tmp = repo.root / ".cairn" / "cache" / "tmp"
    stale, live = tmp / "obj.killed-writer", tmp / "obj.live-writer"
    stale.write_bytes(b"half an object")
    live.write_bytes(b"being written")
    old = 1_600_000_000
    os.utime(stale, (old, old))

    repo.cairn("gc", "--yes")

    assert not stale.exists()
    assert live.exists()


def test_fsck_clean(repo, make_dataset):
    make_dataset(repo.root / "data", count=5, depth=1)
    repo.cairn("add", "data")
    count = len(repo.cache_oids())

    proc = repo.cairn("fsck")

    assert proc.stdout == f"{count} objects verified, all good.\n"
    assert has(repo.json("fsck"), {"checked": count, "corrupt": [], "missing": [], "ok": True})


def test_fsck_reports_corrupt_and_missing_objects(repo, make_dataset):
    files = make_dataset(repo.root / "data", count=5, depth=1)
    repo.cairn("add", "data")
    count = len(repo.cache_oids())
    contents = sorted(files.values())
    corrupt, missing = b3(contents[0]), b3(contents[1])
    repo.corrupt_object(corrupt)
    repo.object_path(missing).unlink()

    proc = repo.cairn("fsck", expect=1)

    assert proc.stdout.splitlines() == [
        f"corrupt: {corrupt}",
        f"missing: {missing}",
        f"{count - 1} objects checked: 1 corrupt, 1 missing; run `cairn fsck --delete-corrupt`, then `cairn pull`",
    ]
    out = repo.json("fsck", expect=1)
    assert has(out, {"checked": count - 1, "corrupt": [corrupt], "missing": [missing], "ok": False})

    proc = repo.cairn("fsck", "--delete-corrupt", expect=1)
    assert f"corrupt: {corrupt} (deleted)" in proc.stdout
    assert "run `cairn pull` to restore them" in proc.stdout
    assert not repo.object_path(corrupt).exists()
    # the folder's tree went with the corrupt object (so a re-add can restore it), and the
    # pointer's version is now reported missing as a whole
    assert repo.json("fsck", expect=1)["missing"] == [repo.pointer("data")["oid"]]
    # nothing corrupt is left: the next step is a pull, not --delete-corrupt again
    assert repo.cairn("fsck", expect=1).stdout.endswith("1 missing; run `cairn pull` to restore them\n")


def test_readd_repairs_objects_deleted_by_fsck(repo, make_dataset):
    files = make_dataset(repo.root / "data", count=5, depth=1)
    repo.cairn("add", "data")
    bad = b3(sorted(files.values())[0])
    repo.corrupt_object(bad)
    repo.cairn("fsck", "--delete-corrupt", expect=1)

    # No remote yet, but the workspace still holds the good bytes: recording them again should
    # bring the object back.
    repo.cairn("add", "data")

    assert repo.object_path(bad).exists()
    repo.cairn("fsck")


@pytest.mark.parametrize("as_json", [False, True])
def test_fsck_on_an_empty_cache(repo, as_json):
    if as_json:
        assert has(repo.json("fsck"), {"checked": 0, "corrupt": [], "missing": [], "ok": True})
    else:
        assert repo.cairn("fsck").stdout == "0 objects verified, all good.\n"
