"""`cairn add` split over processes (`core.hash_split_files`, issue 22): helper processes hash and
store shares of the new files, each into local packs of its own. Forced here on small data sets
(threshold 1), the add must record and store what an add in one process does; a helper killed
with SIGKILL is a clear error that leaves the old pointer and a sound cache, and a rerun
finishes the job."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
from blake3 import blake3
from polling import wait_until

from cairn.index import forked

CORES = len(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(CORES < 2, reason="the add splits over processes only with two cores or more")


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def packs(repo) -> set[str]:
    return {p.stem for p in (repo.root / ".cairn" / "cache" / "packs").glob("*.idx")}


def test_a_split_add_records_and_stores_what_an_add_in_one_process_does(repo, make_dataset, tmp_path):
    files = make_dataset(repo.root / "data", count=600, size=3000, depth=2, fanout=5)
    make_dataset(repo.root / "data" / "copy", count=40, size=3000, depth=1, fanout=2)  # same bytes again
    serial = tmp_path / "serial"
    shutil.copytree(repo.root, serial, symlinks=True)
    repo.cairn("config", "--local", "core.hash_split_files", "1")
    repo.cairn("config", "--local", "core.hash_split_files", "0", cwd=serial)

    (split_result,) = repo.json("add", "data")
    (serial_result,) = json.loads(repo.cairn("add", "data", "--json", cwd=serial).stdout)

    assert split_result == serial_result
    assert split_result["hashed"] == len(files) + 40
    oid, size, count = repo.expected("data")
    assert (repo.pointer("data")["oid"], repo.pointer("data")["size"]) == (oid, size)
    assert (serial / "data.cairn").read_text() == (repo.root / "data.cairn").read_text()
    # one pack per process (the default pack size holds every file): the helpers stored theirs
    assert len(packs(repo)) == min(4, CORES)
    assert len({p.stem for p in (serial / ".cairn" / "cache" / "packs").glob("*.idx")}) == 1
    repo.assert_cache_sound()
    assert repo.json("fsck")["ok"] is True
    repo.cairn("status", "-q")  # the stat cache has every file: unchanged
    shutil.rmtree(repo.root / "data")
    repo.cairn("checkout", "data.cairn")
    assert repo.expected("data") == (oid, size, count)


def test_a_split_add_with_hard_links_links_every_file(repo, make_dataset):
    """Link modes store loose objects: the helpers link their share's files into the cache, the
    adding process makes the workspace files links to them, as in one process."""
    files = make_dataset(repo.root / "data", count=300, size=3000, depth=2, fanout=5)
    repo.cairn("config", "cache.type", "hardlink")
    repo.cairn("config", "--local", "core.hash_split_files", "1")

    (added,) = repo.json("add", "data")

    assert added["link"] == "hardlink" and added["hashed"] == len(files)
    oid, size, _ = repo.expected("data")
    assert (repo.pointer("data")["oid"], repo.pointer("data")["size"]) == (oid, size)
    for rel in files:
        workspace = repo.root / "data" / rel
        assert os.path.samefile(workspace, repo.object_path(b3(workspace.read_bytes())))
    repo.assert_cache_sound()
    assert repo.json("fsck")["ok"] is True
    repo.cairn("status", "-q")


def helper_of(pid: int) -> int | None:
    """A forked helper of the cairn process `pid`, by the name helpers take (a child the add is
    starting a git in has cairn's command line until it execs: stopped there, the add hung)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        for child in children:
            with open(f"/proc/{child}/comm") as f:
                if f.read().strip() == forked.NAME:
                    return child
    except (OSError, ValueError):
        return None
    return None


@pytest.mark.slow
def test_a_helper_killed_midway_is_a_clear_error_and_a_rerun_completes(repo, make_dataset, start_cairn):
    files = make_dataset(repo.root / "data", count=20_000, size=2048, depth=2, fanout=10)
    repo.cairn("config", "--local", "core.hash_split_files", "1")
    repo.cairn("config", "--local", "cache.pack_size", str(64 * 1024))  # each process seals many packs
    proc = start_cairn("add", "data", cwd=repo.root)
    found: list[int] = []

    def helper_sealed_packs() -> bool:
        if not found:
            child = helper_of(proc.pid)
            if child is not None:
                # held where it is (its share could be done before the packs below are), so
                # the kill lands mid-work and never on a process that has already exited
                os.kill(child, signal.SIGSTOP)
                found.append(child)
        return bool(found) and len(packs(repo)) >= 4

    wait_until(helper_sealed_packs, proc, "a helper was storing files")
    os.kill(found[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 1, err
    assert f"a helper process hashing files (pid {found[0]}) was killed by signal 9 (SIGKILL)" in err
    assert "cairn config core.hash_split_files 0" in err
    assert not (repo.root / "data.cairn").exists()
    repo.assert_cache_sound()  # whole packs only, each with its index
    # Running it again finishes the job (the packs sealed before the kill are used, not redone).
    repo.cairn("add", "data")
    oid, _, count = repo.expected("data")
    assert (repo.pointer("data")["oid"], repo.pointer("data")["files"]) == (oid, count)
    assert count == len(files)
    repo.assert_cache_sound()
    assert repo.json("fsck")["ok"] is True
    repo.cairn("status", "-q")
