"""Remote gc on a remote a team shares: what it keeps is decided by what every clone pushed
(root records on the remote), every ref of the git remotes and a grace period, never by the
refs of the one clone that runs it. Two clones of one bare origin share a folder remote."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from remote_helpers import objects_of, workspace_files

from cairn.errors import RemoteLockedError, RemoteUnreachableError
from cairn.remotes.lock import remote_lock
from cairn.storage.local import LocalStorage

FORGET_ALL = ("--grace", "0", "--forget-older-than", "0")


@pytest.fixture
def team(repo, local_remote, clone, tmp_path, git):
    """(alice, bob, origin): two clones of a bare origin, both configured for one folder remote,
    main with data v1 pushed by the project's author and pulled by alice."""
    local_remote.configure(repo)
    repo.write({"data/a.bin": b"main data", "data/b.bin": b"shared"})
    repo.cairn("add", "data")
    repo.commit("main v1")
    origin = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(repo.root), str(origin), cwd=tmp_path)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("fetch", "-q", "origin")
    alice = clone(_at(origin, repo), "alice")
    bob = clone(_at(origin, repo), "bob")
    repo.cairn("push")
    alice.cairn("pull")
    return alice, bob, origin


def _keys(remote, prefix: str) -> list[str]:
    return sorted(k for k in remote.files.keys() if k.startswith(prefix))  # noqa: SIM118 - not a dict


def _at(origin: Path, like):
    """The bare origin as a Project, to clone from."""
    return type(like)(origin, like._run_cairn, like._git)


def _feature(bob, content: bytes = b"bob's feature data") -> set[str]:
    bob.git("checkout", "-q", "-b", "feature")
    bob.write({"data/a.bin": content})
    bob.cairn("add", "data")
    bob.commit("feature")
    return set(objects_of(bob, "data"))


def test_gc_keeps_a_branch_only_a_teammate_pushed(team, clone, local_remote):
    """The finding: bob pushes a branch whose data only he references; alice, who never fetched
    it, runs gc with a policy that forgets every root record and no grace; a fresh clone of the
    branch still pulls, because gc read the git remote's refs (without changing alice's)."""
    alice, bob, origin = team
    feature = _feature(bob)
    bob.cairn("push")
    bob.git("push", "-q", "origin", "feature")
    refs_before = alice.git("for-each-ref")

    plan = alice.json("gc", "--remote", "store", "--yes", *FORGET_ALL)
    assert plan["remove"] == 0
    assert feature <= local_remote.files.held()
    assert alice.git("for-each-ref") == refs_before  # no local ref changed, FETCH_HEAD not written
    assert not (alice.root / ".git" / "FETCH_HEAD").exists()

    fresh = clone(_at(origin, alice), "fresh")
    fresh.git("checkout", "-q", "feature")
    fresh.cairn("pull")
    assert (fresh.root / "data" / "a.bin").read_bytes() == b"bob's feature data"


def test_gc_keeps_what_a_push_recorded_before_its_branch_reached_git(team, clone, local_remote):
    """bob pushed the data but not yet the git branch: the root record of his push keeps it,
    with no grace period at all."""
    alice, bob, origin = team
    feature = _feature(bob)
    bob.cairn("push")

    plan = alice.json("gc", "--remote", "store", "--yes", "--grace", "0")
    assert plan["remove"] == 0
    assert plan["root_records"] == 2  # alice's push of main, bob's of feature
    assert feature <= local_remote.files.held()

    bob.git("push", "-q", "origin", "feature")
    fresh = clone(_at(origin, alice), "fresh")
    fresh.git("checkout", "-q", "feature")
    fresh.cairn("pull")
    assert (fresh.root / "data" / "a.bin").read_bytes() == b"bob's feature data"


def test_forgetting_records_is_explicit_and_shown_in_the_dry_run(team, local_remote):
    alice, bob, _ = team
    feature = _feature(bob)
    bob.cairn("push")  # never pushed to git: only the record and the grace period keep it
    only_feature = feature - set(objects_of(alice, "data"))

    # The grace period alone keeps it (it was written just now).
    plan = alice.json("gc", "--remote", "store", "--forget-ref", "feature")
    assert plan["remove"] == 0 and plan["keep_young"] == len(only_feature)
    assert [r["refs"] for r in plan["forget_records"]] == [["refs/heads/feature"]]
    assert plan["forget_records"][0]["who"] == "Cairn Tester <tester@example.com>"

    proc = alice.cairn("gc", "--remote", "store", "--forget-ref", "feature", "--grace", "0")
    assert "Would forget the root record of a push by Cairn Tester <tester@example.com> at " in proc.stdout
    assert "(refs/heads/feature; 1 roots)" in proc.stdout
    assert f"Would remove {len(only_feature)} objects (" in proc.stdout
    assert local_remote.files.held() >= feature  # a dry run changes nothing
    assert len(_keys(local_remote, "roots/")) == 2

    plan = alice.json("gc", "--remote", "store", "--yes", "--forget-ref", "feature", "--grace", "0")
    assert plan["removed"] == len(only_feature)
    assert not only_feature & local_remote.files.held()
    assert len(_keys(local_remote, "roots/")) == 1  # alice's record of main stays
    # bob's clone sees the generation change and sends it all again on its next push
    assert bob.json("push")["transferred"] == len(only_feature)
    assert local_remote.files.held() >= feature


def test_a_forget_ref_no_push_was_made_for_is_named(team, local_remote):
    alice, bob, _ = team
    _feature(bob)
    bob.cairn("push")

    # a typo forgets nothing, silently: the dry run looked like "nothing to forget"
    proc = alice.cairn("gc", "--remote", "store", "--forget-ref", "featrue", "--forget-ref", "feature")
    assert "note: no push recorded on 'store' was made for 'featrue': --forget-ref featrue forgets nothing" in (
        proc.stderr
    )
    assert "'feature'" not in proc.stderr
    plan = alice.json("gc", "--remote", "store", "--forget-ref", "featrue")
    assert plan["forget_refs_unmatched"] == ["featrue"] and plan["forget_records"] == []


def test_forget_older_than_keeps_recent_records(team, local_remote):
    alice, bob, _ = team
    feature = _feature(bob)
    bob.cairn("push")
    plan = alice.json("gc", "--remote", "store", "--yes", "--grace", "0", "--forget-older-than", "1h")
    assert plan["forget_records"] == [] and plan["remove"] == 0
    assert feature <= local_remote.files.held()


def test_root_records_on_the_remote_say_who_pushed_what(team, local_remote):
    _, bob, _ = team
    _feature(bob)
    bob.cairn("push")
    keys = _keys(local_remote, "roots/")
    docs = [json.loads(local_remote.files.read(k)) for k in keys]
    feature = next(d for d in docs if d["refs"] == ["refs/heads/feature"])
    assert feature["version"] == 1
    assert feature["who"] == "Cairn Tester <tester@example.com>"
    assert feature["host"] == socket.gethostname()
    assert feature["commits"] == [bob.git("rev-parse", "HEAD").strip()]
    assert feature["roots"] == [["tree", bob.pointer("data")["oid"]]]
    # A second push of the same versions records nothing new.
    bob.cairn("push", "--verify")
    assert _keys(local_remote, "roots/") == keys


def test_gc_refuses_when_a_git_remote_cannot_be_read(team, assert_error, local_remote):
    alice, _, origin = team
    alice.git("remote", "add", "gone", str(origin.parent / "no-such-origin.git"))
    before = local_remote.files.keys()
    proc = alice.cairn("gc", "--remote", "store", "--yes", *FORGET_ALL, expect=None)
    assert_error(
        proc,
        RemoteUnreachableError,
        "cannot read the refs of git remote 'gone' (git ls-remote: ",
        "check that you can reach it (`git ls-remote REMOTE`), or remove a git remote that is gone for good "
        "(`git remote remove NAME`)",
    )
    assert "remote gc keeps the data of every branch there, so it must see them; nothing was removed" in proc.stderr
    assert local_remote.files.keys() == before


def test_a_damaged_root_record_stops_gc(team, assert_error, local_remote):
    from cairn.errors import RemoteError

    alice, _, _ = team
    key = _keys(local_remote, "roots/")[0]
    local_remote.files.write(key, b'{"version": 1, "roots": [["tree", "../../etc"]]}')
    proc = alice.cairn("gc", "--remote", "store", "--yes", *FORGET_ALL, expect=None)
    assert_error(
        proc,
        RemoteError,
        f"the root record {key} on the remote cannot be read (",
        f"look at it; if it is damaged beyond use, delete {key} from the remote and run gc again",
    )


# -- the remote lock --------------------------------------------------------------------------


def test_gc_waits_for_a_push_in_progress_then_says_who_holds_it(team, assert_error, local_remote):
    alice, _, _ = team
    alice.cairn("config", "--local", "core.lock_wait", "0.5")
    storage = LocalStorage(str(local_remote.files.folder))
    with remote_lock(storage, "store", exclusive=False, who="Bob <bob@example.com>", wait=0):
        proc = alice.cairn("gc", "--remote", "store", "--yes", *FORGET_ALL, expect=None)
    assert_error(
        proc,
        RemoteLockedError,
        "remote 'store' is locked: ",
        "wait for it to finish and run the command again; a lock whose process died is ignored 30 minutes after "
        "its last refresh (at once on the machine that held it)",
    )
    assert f"by Bob <bob@example.com> on {socket.gethostname()} (pid {os.getpid()}) since " in proc.stderr
    assert _keys(local_remote, "locks/") == []  # released, gc's own attempt too
    assert alice.json("gc", "--remote", "store", "--yes", *FORGET_ALL)["removed"] == 0


def test_push_waits_for_gc_and_a_dead_holder_is_taken_over(team, local_remote):
    _, bob, _ = team
    _feature(bob)
    bob.cairn("config", "--local", "core.lock_wait", "10")
    storage = LocalStorage(str(local_remote.files.folder))
    release = threading.Event()

    def hold() -> None:
        with remote_lock(storage, "store", exclusive=True, who="gc", wait=0):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        while not _keys(local_remote, "locks/"):
            time.sleep(0.01)
        timer = threading.Timer(1.0, release.set)
        timer.start()
        proc = bob.cairn("push")
        timer.join()
    finally:
        release.set()
        holder.join()
    assert proc.returncode == 0
    assert _keys(local_remote, "locks/") == []

    # A lock left by a process that died on this machine is removed, with a message.
    pid = _dead_pid()
    local_remote.files.write(
        "locks/" + "0" * 32 + ".json",
        json.dumps(
            {
                "version": 1,
                "exclusive": True,
                "who": "gone",
                "host": socket.gethostname(),
                "pid": pid,
                "command": "cairn gc --remote store --yes",
                "created": time.time(),
                "refreshed": time.time(),
            }
        ).encode(),
    )
    bob.write({"data/new.bin": b"more"})
    bob.cairn("add", "data")
    proc = bob.cairn("push")
    assert "removed the stale lock of cairn gc --remote store --yes by gone" in proc.stderr
    assert "that process is no longer running" in proc.stderr
    assert _keys(local_remote, "locks/") == []


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_concurrent_gc_and_pushes_never_lose_a_finished_push(team, clone):
    """carol pushed scratch data (her record is forgotten by the gc policy, so it is garbage);
    bob pushes versions that contain the same bytes, one by one, while alice runs gc in a loop.
    A push finds those objects on the remote and does not send them: only the remote lock stops
    gc from deleting them between bob's listing and his root record. Every version a push
    reported as done stays pullable."""
    alice, bob, origin = team
    contents = {f"data/v{i}.bin": f"version {i} ".encode() * (50 + i) for i in range(6)}
    carol = clone(_at(origin, alice), "carol")
    carol.git("checkout", "-q", "-b", "scratch")
    carol.write({f"scratch/{k.rpartition('/')[2]}": v for k, v in contents.items()})
    carol.cairn("add", "scratch")
    carol.cairn("push")
    for c in (alice, bob):
        c.cairn("config", "--local", "core.lock_wait", "60")
    stop = threading.Event()
    gc_runs = []

    def collect() -> None:
        while not stop.is_set():
            plan = alice.json("gc", "--remote", "store", "--yes", "--grace", "0", "--forget-ref", "scratch")
            gc_runs.append(plan["removed"])

    collector = threading.Thread(target=collect)
    collector.start()
    versions = []
    try:
        for rel, data in contents.items():
            bob.write({rel: data})
            bob.cairn("add", "data")
            assert bob.json("push")["missing"] == []
            versions.append(((bob.root / "data.cairn").read_text(), workspace_files(bob.root, "data")))
    finally:
        stop.set()
        collector.join()
    assert len(gc_runs) >= 2 and sum(gc_runs) > 0  # gc really ran alongside, and removed carol's data
    # every pushed version restores from the remote alone, in a clone that never had it
    fresh = clone(_at(origin, alice), "fresh")
    for pointer, files in versions:
        (fresh.root / "data.cairn").write_text(pointer)
        fresh.cairn("pull")
        assert workspace_files(fresh.root, "data") == files


def test_gc_options_are_checked(team):
    alice, _, _ = team
    proc = alice.cairn("gc", "--remote", "store", "--grace", "soon", expect=2)
    assert "Invalid value for '--grace': 'soon' is not a duration; write it like 30m, 12h, 14d or 2w" in proc.stderr
    proc = alice.cairn("gc", "--forget-ref", "feature", expect=2)
    assert "--forget-older-than and --forget-ref apply to remote root records: add --remote NAME" in proc.stderr
    assert alice.json("gc", "--remote", "store", "--grace", "2w")["keep_young"] == 0
