"""kill -9 at a random moment of every writing command (tests/faults/killing.py says what is
checked): a few trials per operation here, 100 each with `python bench/faults.py --trials 100`."""

from __future__ import annotations

import json

import killing
import pytest
from blake3 import blake3

TRIALS = 1  # per operation in CI; bench/faults.py runs many more


@pytest.mark.parametrize("op", killing.OPS)
def test_killed_command_leaves_a_sound_repository(kill_harness, op):
    trials = killing.run_op(kill_harness, op, TRIALS)

    problems = [f"trial {i} (killed after {t.delay:.2f} s): {p}" for i, t in enumerate(trials) for p in t.problems]
    assert problems == [], "\n".join(problems)
    assert len(trials) == TRIALS


def test_killed_add_of_small_files_leaves_only_whole_packs(kill_harness):
    """The add's small files go into local packs (issue 22): kills at several moments leave a cache
    fsck calls clean and a rerun completes (the checks of killing.py); the reference run packed."""
    trials = killing.run_op(kill_harness, "add", 3)

    problems = [f"trial {i} (killed after {t.delay:.2f} s): {p}" for i, t in enumerate(trials) for p in t.problems]
    assert problems == [], "\n".join(problems)
    proj = kill_harness.base / "trials" / "add-reference" / "proj"
    small = [p.read_bytes() for p in (proj / "data").rglob("*") if p.is_file() and p.stat().st_size < 512 * 1024]
    loose = proj / ".cairn" / "cache" / "objects"
    assert small and not any((loose / o[:2] / o[2:]).exists() for o in (blake3(d).hexdigest() for d in small))


@pytest.mark.parametrize("op", ["fetch", "pull"])
def test_killed_fetch_of_small_files_leaves_whole_packs_and_complete_trees(kill_harness, op):
    """fetch and pull land small files in local packs (sealed every 16 KiB here) and write a tree
    only once everything below it is stored: right after each kill, every pack index describes a
    whole pack and every tree in the cache has its files (killing.cache_promises); then fsck is
    clean and the rerun completes (the checks of killing.py). The reference run packed."""
    trials = killing.run_op(kill_harness, op, 3, after_kill=lambda root: killing.cache_promises(root / "proj"))

    problems = [f"trial {i} (killed after {t.delay:.2f} s): {p}" for i, t in enumerate(trials) for p in t.problems]
    assert problems == [], "\n".join(problems)
    proj = kill_harness.base / "trials" / f"{op}-reference" / "proj"
    small = {blake3(d).hexdigest() for d in kill_harness.v2.values() if len(d) < 512 * 1024}
    cache = proj / ".cairn" / "cache"
    packed = {row[0] for idx in (cache / "packs").glob("*.idx") for row in json.loads(idx.read_bytes())["objects"]}
    assert small and small <= packed
    assert not any((cache / "objects" / o[:2] / o[2:]).exists() for o in small)
    assert killing.cache_promises(proj) == []
