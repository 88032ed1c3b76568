"""A full disk: the cache on a 2 MiB tmpfs (root only; skipped with the reason otherwise) during
add, checkout and pull. The error names the path, nothing half-written is kept, the workspace is
unchanged, and the same command completes once there is space again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cairn.errors import DiskFullError

HINT = "free space on that disk and run the command again, or move the cache to a bigger disk"


def files_under(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def grow(disk: Path) -> None:
    """Free space the way an admin would: give the file system more room."""
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)


def leftovers(cache: Path) -> list[str]:
    tmp = cache / "tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def big_data(root: Path) -> dict[str, bytes]:
    files = {f"f{i}.bin": os.urandom(700_000) for i in range(4)} | {f"small/s{i}": os.urandom(900) for i in range(30)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


@pytest.fixture
def cache_on(repo, small_disk):
    cache = small_disk / "cache"
    repo.cairn("config", "cache.dir", str(cache))
    return cache


def test_add_on_a_full_disk(repo, small_disk, cache_on, assert_error):
    files = big_data(repo.root / "data")

    proc = repo.cairn("add", "data", expect=None)

    # files below 2 MiB go into local packs (docs/formats.md)
    assert_error(proc, DiskFullError, f"no space left on device: cannot write {cache_on}/packs", HINT)
    assert "nothing half-written was kept" in proc.stderr
    assert not (repo.root / "data.cairn").exists()  # no pointer to a version the cache lacks
    assert files_under(repo.root / "data") == files  # the workspace is as it was
    assert leftovers(cache_on) == []
    repo.assert_cache_sound()  # what is there is whole
    grow(small_disk)
    repo.cairn("add", "data")
    assert repo.pointer("data")["oid"] == repo.expected("data")[0]
    repo.cairn("fsck")


def test_checkout_on_a_full_disk(repo, small_disk, cache_on, assert_error):
    files = {f"f{i}.bin": os.urandom(300_000) for i in range(3)}
    repo.write(files, under="data")
    repo.cairn("add", "data")
    for f in (repo.root / "data").iterdir():
        f.unlink()
    filler = small_disk / "filler"
    with open(filler, "wb") as out:  # take every byte that is left
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass

    proc = repo.cairn("checkout", expect=None)

    assert_error(proc, DiskFullError, f"no space left on device: cannot write {cache_on}", HINT)
    assert files_under(repo.root / "data") == {}  # unchanged: nothing written, nothing half-written
    assert leftovers(cache_on) == []
    filler.unlink()
    repo.cairn("checkout")
    assert files_under(repo.root / "data") == files
    repo.cairn("status", "-q")


def test_pull_on_a_full_disk(repo, small_disk, tmp_path, git, run_cairn, assert_error):
    files = big_data(repo.root / "data")
    repo.cairn("add", "data")
    repo.cairn("remote", "add", "-d", "store", str(tmp_path / "remote"))
    repo.commit("data")
    repo.cairn("push")
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo.root), str(clone), cwd=tmp_path)
    cache = small_disk / "cache"
    run_cairn("config", "cache.dir", str(cache), cwd=clone)

    proc = run_cairn("pull", cwd=clone, expect=None)

    assert_error(proc, DiskFullError, "no space left on device: cannot write ", HINT)
    assert str(cache) in proc.stderr  # the full disk is the cache's
    assert not (clone / "data").exists()  # nothing, rather than a half-pulled folder
    assert leftovers(cache) == []
    grow(small_disk)
    run_cairn("pull", cwd=clone)
    assert files_under(clone / "data") == files
    run_cairn("fsck", cwd=clone)
