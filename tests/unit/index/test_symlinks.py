"""The walk's link policy: what it follows, what it skips and why, and that loops end."""

from __future__ import annotations

import os
from pathlib import Path

from cairn.index.snapshot import snapshot
from cairn.index.statcache import StatCache
from cairn.index.symlinks import DANGLING, LOOP, OUTSIDE, PRIVATE, LinkPolicy


def _walk(folder: Path, tmp_path: Path, links: LinkPolicy | None = None):
    stats = StatCache(tmp_path / "stat.db")
    try:
        snap = snapshot(folder, folder.name, stats, links=links)
    finally:
        stats.close()
    assert snap is not None
    return snap


def test_without_a_policy_only_links_inside_the_folder_are_followed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "f").write_bytes(b"f")
    (tmp_path / "beside").write_bytes(b"beside")
    os.symlink("sub/f", data / "inner")
    os.symlink("../beside", data / "outer")

    snap = _walk(data, tmp_path)

    assert snap.files == 2
    assert [(s.path, s.reason, s.target) for s in snap.skipped] == [("data/outer", OUTSIDE, "../beside")]
    assert snap.linked == {"data/inner"}


def test_links_that_chase_each_other_end_as_loops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        (data / name / "own").write_bytes(name.encode())
    os.symlink("../b", data / "a" / "to_b")
    os.symlink("../a", data / "b" / "to_a")

    snap = _walk(data, tmp_path)

    # a, b, a/to_b (= b) and b/to_a (= a): each walked once more, then the way back is a loop
    assert snap.files == 4
    assert sorted((s.path, s.reason) for s in snap.skipped) == [("data/a/to_b/to_a", LOOP), ("data/b/to_a/to_b", LOOP)]
    assert snap.linked == {"data/a/to_b/own", "data/b/to_a/own"}


def test_a_repository_policy_knows_cache_links_and_private_folders(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    objects = root / ".cairn" / "cache" / "objects"
    (objects / "ab").mkdir(parents=True)
    (objects / "ab" / "cdef").write_bytes(b"object")
    (root / ".cairn" / "config.local.toml").write_bytes(b"secret_access_key = 'x'")
    (root / "data").mkdir()
    os.symlink(objects / "ab" / "cdef", root / "data" / "checked_out")
    os.symlink("../.cairn/config.local.toml", root / "data" / "config")
    os.symlink(tmp_path / "nowhere", root / "data" / "dead")
    policy = LinkPolicy.for_repo(root, objects)

    assert policy.judge(str(root / "data" / "checked_out")) == (None, str(objects / "ab" / "cdef"))
    assert policy.judge(str(root / "data" / "config")) == (PRIVATE, "../.cairn/config.local.toml")
    assert policy.judge(str(root / "data" / "dead")) == (DANGLING, str(tmp_path / "nowhere"))
    snap = _walk(root / "data", tmp_path, policy)
    assert snap.files == 1 and snap.linked == set()  # the cache link is cairn's own, not the user's
    # following everything still stops at .git/ and .cairn/
    assert LinkPolicy.for_repo(root, objects, follow_all=True).judge(str(root / "data" / "config"))[0] == PRIVATE
