"""Every remote backend through the real CLI: `cairn push`, then `cairn pull` into a fresh clone,
against Azure Blob (Azurite), GCS (fake-gcs-server) and SFTP (an asyncssh server), each configured
as a user would (`remote add`, `remote modify`, credentials with --local, ssh keys in ~/.ssh). A
local folder and S3 (moto) take the same trip, and more, in test_remote_transfer.py
(test_push_then_pull_into_a_second_clone); the memory backend lives in one process, so it has
the conformance suite only (tests/conformance)."""

from __future__ import annotations

import os
import time

import pytest
from remote_helpers import BIG_SIZE, b3, objects_of, workspace_files

TRACKED = ("data", "model.bin")
EMULATED = ["az", "gs", "ssh"]


@pytest.mark.parametrize("remote", EMULATED, indirect=True)
def test_push_then_pull_into_a_fresh_clone(source, remote, clone):
    expected = objects_of(source, *TRACKED)
    pushed = source.json("push")
    assert (pushed["transferred"], pushed["bytes"]) == (len(expected), sum(expected.values()))

    # the remote's layout, read with the service's own client: packs, the large file loose
    assert remote.files.held() == set(expected)
    assert remote.files.loose() == {b3(source.files["data/big.bin"]): BIG_SIZE}
    remote.files.assert_sound()
    assert source.json("push")["transferred"] == 0

    fresh = clone(source, "fresh", remote)
    pulled = fresh.json("pull")
    assert (pulled["transferred"], pulled["missing"], pulled["corrupt"]) == (len(expected), [], [])
    assert workspace_files(fresh.root, *TRACKED) == source.files
    fresh.assert_cache_sound()
    fresh.cairn("status", "-q")


@pytest.mark.parametrize("remote", ["ssh"], indirect=True)
def test_gc_remote_removes_temp_files_a_killed_push_left_on_ssh(source, remote):
    """ssh has no atomic put: every key is written under .tmp/ and renamed into place, so a push
    killed mid-write leaves a temp file there. gc --remote removes it once an hour old."""
    source.cairn("push")
    before = remote.files.held()
    tmp = remote.files.folder / ".tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []  # every finished write was moved
    tmp.mkdir(exist_ok=True)
    (tmp / "killed").write_bytes(b"half of a pack, written by a push killed yesterday")
    (tmp / "running").write_bytes(b"a push is writing this right now")
    hours_ago = time.time() - 2 * 3600
    os.utime(tmp / "killed", (hours_ago, hours_ago))
    assert source.json("push")["transferred"] == 0  # not data: nothing changes for a push

    plan = source.json("gc", "--remote", "store")
    assert (plan["temp_keys"], plan["temp_keys_kept"]) == (1, 1)
    source.cairn("gc", "--remote", "store", "--yes")
    assert sorted(os.listdir(tmp)) == ["running"]
    assert remote.files.held() == before
    remote.files.assert_sound()
