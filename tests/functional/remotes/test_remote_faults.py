"""Damaged and unusable remotes: corrupt or truncated objects, lost objects and packs, a bucket
that does not exist, wrong credentials, endpoints that refuse or do not answer, unknown layouts,
and transfers killed half way. Every refusal is asserted with its message, hint and exit code."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until
from remote_helpers import b3, objects_of, workspace_files

from cairn.errors import (
    CorruptObjectError,
    ObjectMissingError,
    RemoteAuthError,
    RemoteError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)

TRACKED = ("data", "model.bin")
local_only = pytest.mark.parametrize("remote", ["local"], indirect=True)
CORRUPT_HINT = (
    "in a clone that has good copies, run `cairn push --verify`: it checks the remote's copies and replaces "
    "the damaged ones"
)
MISSING_HINT = (
    "push them from a clone that has them: `cairn push` sends what was never pushed, `cairn push --verify` also "
    "what the remote lost; `cairn status --remote` shows what is where"
)


def _small(source) -> tuple[str, str]:
    """(path, oid) of a small file of the dataset, which travels packed."""
    rel = "data/s1/t1/f004.bin"
    return rel, b3(source.files[rel])


# -- damaged objects --------------------------------------------------------------------------


def test_corrupt_object_in_a_pack_is_named_and_never_checked_out(source, remote, clone, assert_error):
    source.cairn("push")
    rel, oid = _small(source)
    key = remote.files.corrupt(oid)
    assert key.startswith("packs/")
    other = clone(source, "other", remote)

    for command in ("pull", "fetch"):
        proc = other.cairn(command, expect=None)
        assert_error(
            proc,
            CorruptObjectError,
            f"1 object(s) on remote 'store' are corrupt and were not used: {oid}",
            CORRUPT_HINT,
        )
    assert oid not in other.cache_oids()
    # everything else arrived, but the trees above the damaged file: a tree in the cache vouches
    # for every file below it (a re-add would trust it), so those are not written
    above = {source.expected(p)[0] for p in ("data", "data/s1", "data/s1/t1")}
    assert other.cache_oids() == set(objects_of(source, *TRACKED)) - {oid} - above
    other.assert_cache_sound()
    assert not (other.root / "data").exists()  # pull stopped before checking anything out
    # A checkout cannot write the damaged file either: it is not in the cache.
    other.cairn("checkout", expect=ObjectMissingError.exit_code)
    assert not (other.root / rel).exists()


def test_truncated_loose_object_is_named_and_never_checked_out(source, remote, clone, assert_error):
    source.cairn("push")
    oid = b3(source.files["data/big.bin"])
    key = f"objects/{oid[:2]}/{oid[2:]}"
    remote.files.write(key, remote.files.read(key)[: 1024 * 1024])
    other = clone(source, "other", remote)

    proc = other.cairn("pull", expect=None)
    assert_error(proc, CorruptObjectError, f"1 object(s) on remote 'store' are corrupt and were not used: {oid}")
    assert oid not in other.cache_oids()
    other.assert_cache_sound()
    assert not list((other.root / ".cairn" / "cache" / "tmp").glob("*")), "a partial download was left behind"


def test_the_fix_named_for_a_corrupt_object_works(source, remote, clone, assert_error):
    source.cairn("push")
    _, oid = _small(source)
    remote.files.corrupt(oid)
    other = clone(source, "other", remote)
    assert_error(other.cairn("pull", expect=None), CorruptObjectError, oid, CORRUPT_HINT)
    assert source.json("push")["transferred"] == 0  # a plain push trusts what it remembers

    # The fix the hint names, in the clone that has a good copy: the damaged copy is found,
    # replaced, and taken out of its pack (the rest of that pack is kept).
    fixed = source.json("push", "--verify")
    expected = objects_of(source, *TRACKED)
    assert (fixed["transferred"], fixed["skipped"]) == (1, len(expected) - 1)
    assert fixed["verify"] == {"checked": len(expected), "damaged": [oid], "lost": []}
    remote.files.assert_sound()
    assert remote.files.held() == set(expected)

    other.cairn("pull")
    assert workspace_files(other.root, *TRACKED) == source.files
    third = clone(source, "third", remote)
    third.cairn("pull")
    assert workspace_files(third.root, *TRACKED) == source.files
    # all is well again: nothing to do, also for a plain verify
    assert source.json("push")["transferred"] == 0
    again = source.json("push", "--verify")
    assert (again["transferred"], again["verify"]["damaged"], again["verify"]["lost"]) == (0, [], [])


@local_only
def test_a_damaged_object_alone_in_its_pack_is_replaced_not_deleted(source, remote, clone, assert_error):
    """`push --verify` sends the good copy of a damaged object alone in its pack as a pack of its
    own: the same single row, so the same pack id, and the upload replaced the damaged bytes.
    That pack must stay (deleting it as damaged deleted the only good copy)."""
    lone = random.Random(5).randbytes(5000)  # above the remote's 4 KiB packs: a pack of its own
    source.write({"extra/lone.bin": lone})
    source.cairn("add", "extra")
    source.commit("extra")
    source.cairn("push")
    oid = b3(lone)
    key = remote.files.corrupt(oid)
    assert [row[0] for row in remote.files.packs()[key[len("packs/") : -len(".pack")]]] == [oid]
    other = clone(source, "other", remote)
    assert_error(other.cairn("pull", expect=None), CorruptObjectError, oid, CORRUPT_HINT)

    fixed = source.json("push", "--verify")

    assert fixed["verify"]["damaged"] == [oid] and fixed["transferred"] == 1
    assert oid in remote.files.held()
    remote.files.assert_sound()
    other.cairn("pull")
    assert workspace_files(other.root, *TRACKED, "extra") == {**source.files, "extra/lone.bin": lone}
    assert source.json("push")["transferred"] == 0


@local_only
def test_a_clone_that_found_a_damaged_object_sends_a_good_copy_it_gets_later(source, remote, clone, assert_error):
    """The fetch that finds a damaged copy makes the clone forget it: once the clone has the
    data again (here: added anew), its plain push replaces the damaged copy."""
    source.cairn("push")
    _, oid = _small(source)
    remote.files.corrupt(oid)
    other = clone(source, "other", remote)
    assert_error(other.cairn("pull", expect=None), CorruptObjectError, oid, CORRUPT_HINT)
    # the copy stays known as damaged: fetching again names it damaged again, not missing
    assert_error(other.cairn("fetch", expect=None), CorruptObjectError, oid, CORRUPT_HINT)
    other.write(source.files)
    other.cairn("add", "data", "model.bin")
    assert other.json("push")["transferred"] == 1
    remote.files.assert_sound()  # the damaged copy was taken out of its pack
    third = clone(source, "third", remote)
    third.cairn("pull")
    assert workspace_files(third.root, *TRACKED) == source.files


@local_only
def test_damaged_pack_index(source, remote, clone, assert_error):
    source.cairn("push")
    pack_id = sorted(remote.files.packs())[0]
    remote.files.write(f"packs/{pack_id}.idx", b"not json")
    other = clone(source, "other", remote)
    proc = other.cairn("pull", expect=None)
    assert_error(
        proc,
        CorruptObjectError,
        f"pack index packs/{pack_id}.idx on the remote is damaged (Expecting value: line 1 column 1 (char 0))",
        "run `cairn gc --remote NAME --yes` to drop it; the objects will be pushed again",
    )


def test_the_fix_named_for_a_damaged_pack_index_works(source, remote, clone):
    source.cairn("push")
    pack_id = sorted(remote.files.packs())[0]
    remote.files.write(f"packs/{pack_id}.idx", b"not json")
    proc = source.cairn("gc", "--remote", "store")
    assert "Would also remove: 1 damaged pack index(es) with their packs (push the objects again)." in proc.stdout
    proc = source.cairn("gc", "--remote", "store", "--yes")
    assert "Also removed: 1 damaged pack index(es) with their packs (push the objects again)." in proc.stdout
    keys = remote.files.keys()
    assert f"packs/{pack_id}.idx" not in keys and f"packs/{pack_id}.pack" not in keys
    # the pushing clone notices (the remote's generation changed) and sends those objects again
    assert source.json("push")["transferred"] > 0
    remote.files.assert_sound()
    other = clone(source, "other", remote)
    other.cairn("pull")
    assert workspace_files(other.root, *TRACKED) == source.files


@local_only
@pytest.mark.parametrize("which", ["packed", "loose"])
def test_push_refuses_a_corrupt_cache_object(source, remote, assert_error, which):
    oid = _small(source)[1] if which == "packed" else b3(source.files["data/big.bin"])
    source.corrupt_object(oid)
    assert_error(
        source.cairn("push", expect=None),
        CorruptObjectError,
        f"cache object {oid} is corrupt (its content no longer matches its id); nothing was pushed for it",
        "run `cairn fsck --delete-corrupt`, then restore the data (`cairn pull`, or `cairn add` it again) and push",
    )
    assert oid not in remote.files.held()
    remote.files.assert_sound()


@local_only
@pytest.mark.parametrize("travels", ["packed", "loose"])
def test_push_of_objects_missing_from_the_cache_warns(source, remote, travels):
    """Push finds a file's object missing while packing or streaming it (it trusts the sizes
    in the trees instead of stat-ing every object): the rest goes, that one is named."""
    oid = _small(source)[1] if travels == "packed" else b3(source.files["data/big.bin"])
    source.object_path(oid).unlink()
    proc = source.cairn("push", expect=1)
    expected = objects_of(source, *TRACKED)
    assert proc.stdout.startswith(f"{len(expected) - 1} object(s) pushed (")
    assert proc.stderr.startswith(f"warning: 1 object(s) are in neither place and were not pushed\n  missing: {oid}\n")
    assert "  hint: `cairn fetch` them from a remote that has them" in proc.stderr
    assert remote.files.held() == set(expected) - {oid}


# -- lost objects -----------------------------------------------------------------------------


@local_only
def test_lost_loose_object_is_reported_and_push_restores_it(source, remote, clone, assert_error):
    source.cairn("push")
    oid = b3(source.files["data/big.bin"])
    remote.files.delete(f"objects/{oid[:2]}/{oid[2:]}")
    other = clone(source, "other", remote)

    proc = other.cairn("pull", expect=None)
    assert_error(
        proc,
        ObjectMissingError,
        f"1 object(s) are not on remote 'store' (lost there, or never pushed): {oid}",
        MISSING_HINT,
    )
    status = other.json("status", "--remote")["remote"]
    assert status["objects"]["missing"] == [oid]
    # The fix it names works: the pushing clone notices the loss and sends only that object.
    pushed = source.json("push", "--verify")
    assert (pushed["transferred"], pushed["bytes"]) == (1, len(source.files["data/big.bin"]))
    assert pushed["verify"]["damaged"] == pushed["verify"]["lost"] == []  # no longer listed: simply absent
    # the object, and data/'s tree, which the failed pull did not write without its file
    assert other.json("pull")["transferred"] == 2
    assert workspace_files(other.root, *TRACKED) == source.files


def test_lost_pack_with_its_index_left_behind(source, remote, clone, assert_error):
    source.cairn("push")
    trees = set(source.expected_trees("data"))
    # a pack of files only: the objects under a lost folder version could not even be named
    pack_id, rows = next(
        (p, rows) for p, rows in sorted(remote.files.packs().items()) if not {r[0] for r in rows} & trees
    )
    remote.files.delete(f"packs/{pack_id}.pack")
    lost = sorted(oid for oid, _, _ in rows)
    other = clone(source, "other", remote)

    proc = other.cairn("fetch", expect=None)
    assert_error(
        proc, ObjectMissingError, f"{len(lost)} object(s) are not on remote 'store' (lost there, or never pushed)"
    )
    assert source.json("push")["transferred"] == 0  # the pushing clone trusts what it remembers...
    pushed = source.json("push", "--verify")  # ...until asked to look (the fix the hint names)
    assert pushed["transferred"] == len(lost)
    other.cairn("pull")
    assert workspace_files(other.root, *TRACKED) == source.files
    remote.files.assert_sound()


@local_only
def test_fetch_of_data_never_pushed(source, remote, clone, assert_error):
    source.cairn("push")
    source.write({"model.bin": b"v2, not pushed"})
    source.cairn("add", "model.bin")
    source.commit("v2")
    other = clone(source, "other", remote)
    proc = other.cairn("pull", expect=None)
    oid = b3(b"v2, not pushed")
    assert_error(
        proc, ObjectMissingError, f"1 object(s) are not on remote 'store' (lost there, or never pushed): {oid}"
    )
    proc = source.cairn("push", "--json")
    assert json.loads(proc.stdout)["transferred"] == 1
    other.cairn("pull")


# -- the remote's layout ----------------------------------------------------------------------


@local_only
@pytest.mark.parametrize(
    ("content", "message", "hint"),
    [
        (b'{"version": 2}', "remote 'store' has layout version 2; this cairn reads 1", "upgrade cairn"),
        (b"{broken", "cairn-remote.json is damaged", 'restore it: {"version": 1}'),
    ],
    ids=["newer", "damaged"],
)
def test_unknown_or_damaged_remote_layout_is_refused(source, remote, assert_error, content, message, hint):
    source.cairn("push")
    remote.files.write("cairn-remote.json", content)
    for command in (["push"], ["fetch"], ["status", "--remote"], ["gc", "--remote", "store"]):
        assert_error(source.cairn(*command, expect=None), RemoteError, message, hint)


# -- locations --------------------------------------------------------------------------------


def test_bucket_that_does_not_exist(repo, moto_endpoint, assert_error):
    repo.cairn("remote", "add", "-d", "store", "s3://no-such-bucket-anywhere/project")
    repo.cairn("remote", "modify", "store", "endpoint_url", moto_endpoint)
    repo.cairn("remote", "modify", "store", "access_key_id", "testing", "--local")
    repo.cairn("remote", "modify", "store", "secret_access_key", "testing", "--local")
    for command in (["push"], ["pull"], ["gc", "--remote", "store"]):
        assert_error(
            repo.cairn(*command, expect=None),
            RemoteNotFoundError,
            "s3://no-such-bucket-anywhere/project: reading cairn-remote.json: the bucket does not exist",
            "create it, or fix the remote URL",
        )


def test_local_remote_folder_without_parent(repo, tmp_path, assert_error):
    repo.write({"a.txt": b"a"})
    repo.cairn("add", "a.txt")
    folder = tmp_path / "no" / "such" / "remote"
    repo.cairn("remote", "add", "-d", "store", str(folder))
    assert_error(
        repo.cairn("push", expect=None),
        RemoteNotFoundError,
        f"the remote folder {folder} does not exist, nor does its parent",
        "create it (mkdir -p) or fix the URL with `cairn remote modify NAME url PATH`",
    )
    folder.parent.mkdir(parents=True)  # the fix it names works
    repo.cairn("push")


def test_local_remote_path_at_or_under_a_file(repo, tmp_path, assert_error):
    repo.write({"a.txt": b"a"})
    repo.cairn("add", "a.txt")
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a folder")
    repo.cairn("remote", "add", "-d", "store", str(blocker))
    for url in (blocker, blocker / "store"):
        repo.cairn("remote", "modify", "store", "url", str(url))
        for command in (["push"], ["fetch"]):
            assert_error(
                repo.cairn(*command, expect=None),
                RemoteNotFoundError,
                f"the remote {url} is not a folder: {blocker} is a file",
                "move that file away, or fix the URL with `cairn remote modify NAME url PATH`",
            )
    assert blocker.read_bytes() == b"not a folder"
    blocker.unlink()  # the fix it names works
    repo.cairn("remote", "modify", "store", "url", str(blocker))
    repo.cairn("push")
    assert blocker.is_dir()


def _s3_project(repo, endpoint: str, bucket: str, key_id: str | None, secret: str | None, prefix: str = "project"):
    repo.write({"a.txt": b"some data"})
    repo.cairn("add", "a.txt")
    repo.cairn("remote", "add", "-d", "store", f"s3://{bucket}/{prefix}")
    repo.cairn("remote", "modify", "store", "endpoint_url", endpoint)
    if key_id is not None:
        repo.cairn("remote", "modify", "store", "access_key_id", key_id, "--local")
    if secret is not None:
        repo.cairn("remote", "modify", "store", "secret_access_key", secret, "--local")


AUTH_HINT = (
    "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile with "
    "`cairn remote modify NAME profile P --local`)"
)


def test_wrong_credentials(repo, auth_moto, assert_error):
    _s3_project(repo, auth_moto.endpoint, auth_moto.bucket, auth_moto.key_id, "wrong-secret", "wrong-creds")
    for key_id, command in [(auth_moto.key_id, "push"), ("AKIANOSUCHKEY0000000", "fetch")]:
        repo.cairn("remote", "modify", "store", "access_key_id", key_id, "--local")
        assert_error(
            repo.cairn(command, expect=None),
            RemoteAuthError,
            f"s3://{auth_moto.bucket}/wrong-creds: reading cairn-remote.json: access denied (",
            AUTH_HINT,
        )
    # The right ones, in config.local.toml, work.
    repo.cairn("remote", "modify", "store", "access_key_id", auth_moto.key_id, "--local")
    repo.cairn("remote", "modify", "store", "secret_access_key", auth_moto.secret, "--local")
    assert repo.json("push")["transferred"] == 1


def test_no_credentials_at_all(repo, moto_endpoint, assert_error):
    _s3_project(repo, moto_endpoint, "any-bucket", None, None)
    proc = repo.cairn("push", expect=None, env={"AWS_EC2_METADATA_DISABLED": "true"})
    assert_error(
        proc,
        RemoteAuthError,
        "s3://any-bucket/project: reading cairn-remote.json: no credentials found",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile with `cairn remote modify NAME profile P`",
    )


def test_credentials_from_the_environment(repo, auth_moto):
    _s3_project(repo, auth_moto.endpoint, auth_moto.bucket, None, None, "env-creds")
    env = {"AWS_ACCESS_KEY_ID": auth_moto.key_id, "AWS_SECRET_ACCESS_KEY": auth_moto.secret}
    repo.cairn("push", env=env)
    repo.cairn("fetch", env=env)


def _s3_client_loaded(proc) -> bool:
    """Whether a cairn run with PYTHONPROFILEIMPORTTIME=1 imported s3fs."""
    return any(line.rsplit("|", 1)[-1].strip().split(".")[0] == "s3fs" for line in proc.stderr.splitlines())


@pytest.mark.parametrize("where", ["config", "environment"])
def test_push_with_nothing_to_do_sends_its_one_request_itself(repo, auth_moto, assert_error, where):
    """A push with nothing to do reads the remote's generation with a request sent without the
    s3fs client; a server that checks signatures accepts it. When it is refused, the full client
    answers, with the usual error."""
    if where == "config":
        _s3_project(repo, auth_moto.endpoint, auth_moto.bucket, auth_moto.key_id, auth_moto.secret, "signed-cfg")
        env = {}
    else:
        _s3_project(repo, auth_moto.endpoint, auth_moto.bucket, None, None, "signed-env")
        env = {"AWS_ACCESS_KEY_ID": auth_moto.key_id, "AWS_SECRET_ACCESS_KEY": auth_moto.secret}
    profile = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    assert _s3_client_loaded(repo.cairn("push", env=profile))
    proc = repo.cairn("push", env=profile)
    assert proc.stdout == "Everything is up to date (1 object(s) already there).\n"
    assert not _s3_client_loaded(proc)

    if where == "config":
        repo.cairn("remote", "modify", "store", "secret_access_key", "wrong-secret", "--local")
    else:
        env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
    proc = repo.cairn("push", expect=None, env=env)
    assert_error(proc, RemoteAuthError, f"s3://{auth_moto.bucket}/signed-", AUTH_HINT)


def test_endpoint_refusing_connections(repo, assert_error):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _s3_project(repo, f"http://127.0.0.1:{port}", "bucket", "testing", "testing")
    proc = repo.cairn("push", expect=None, timeout=60)
    assert_error(
        proc,
        RemoteUnreachableError,
        f'cannot reach the storage (Could not connect to the endpoint URL: "http://127.0.0.1:{port}/bucket/project',
        "check the URL and endpoint_url (`cairn remote list`) and your network connection",
    )


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that never answers: a listening socket whose accept queue is full, so the
    kernel drops further connection attempts (as a firewall would) and connecting times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for c in fillers:
            c.close()
        server.close()


@pytest.mark.slow
def test_endpoint_that_does_not_answer_fails_in_bounded_time(repo, silent_endpoint, assert_error):
    _s3_project(repo, silent_endpoint, "bucket", "testing", "testing")
    # A hang would hit the subprocess timeout (TimeoutExpired) instead of returning an error.
    # Two attempts, not the default five: the bound is what is tested, not the retry count.
    proc = repo.cairn("push", expect=None, timeout=90, env={"AWS_MAX_ATTEMPTS": "2"})
    assert_error(
        proc,
        RemoteUnreachableError,
        "s3://bucket/project: reading cairn-remote.json: cannot reach the storage (Connect timeout on endpoint URL",
        "check the URL and endpoint_url (`cairn remote list`) and your network connection",
    )


# -- interrupted transfers --------------------------------------------------------------------

MANY = {"count": 1500, "size": 1500, "depth": 2, "fanout": 8}


@pytest.fixture(scope="module")
def many_template(tmp_path_factory, git, run_cairn, make_dataset) -> tuple[Path, dict[str, bytes]]:
    """A repository with 1,500 small files tracked and committed (built once, copied per test)."""
    root = tmp_path_factory.mktemp("many") / "proj"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    git("config", "user.name", "Cairn Tester", cwd=root)
    git("config", "user.email", "tester@example.com", cwd=root)
    run_cairn("init", cwd=root)
    files = make_dataset(root / "data", **MANY)
    run_cairn("add", "data", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "many files", cwd=root)
    return root, {f"data/{rel}": data for rel, data in files.items()}


@pytest.fixture
def many(repo, remote, many_template):
    """A copy of many_template with the remote configured and packs of about 8 KiB."""
    template, files = many_template
    shutil.rmtree(repo.root)
    shutil.copytree(template, repo.root, symlinks=True)
    remote.configure(repo)
    repo.cairn("remote", "modify", "store", "pack_size", "8192")
    repo.commit("remote")
    repo.files = files
    return repo


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_push_killed_half_way_then_rerun(many, remote, clone, start_cairn):
    expected = objects_of(many, "data")
    proc = start_cairn("push", "-j", "1", cwd=many.root)
    wait_until(lambda: len(remote.files.packs()) >= 10, proc, "10 packs were on the remote")
    _kill(proc)

    remote.files.assert_sound()  # every index describes a whole pack of good objects
    held = remote.files.held()
    assert 0 < len(held) < len(expected)
    rerun = many.json("push")
    assert (rerun["transferred"], rerun["skipped"]) == (len(expected) - len(held), len(held))
    assert remote.files.held() == set(expected)
    remote.files.assert_sound()

    other = clone(many, "other", remote)
    assert other.json("pull")["transferred"] == len(expected)
    assert workspace_files(other.root, "data") == many.files


@pytest.mark.slow
@local_only
def test_fetch_killed_half_way_then_rerun(many, remote, clone, start_cairn):
    many.cairn("push")
    expected = objects_of(many, "data")
    other = clone(many, "other", remote)
    other.cairn("config", "cache.pack_size", "16384")  # small packs: some are sealed before the kill
    proc = start_cairn("fetch", "-j", "1", cwd=other.root)
    wait_until(lambda: len(other.cache_oids()) >= 200, proc, "200 objects were in the cache")
    _kill(proc)

    other.assert_cache_sound()  # nothing half-written taken for an object
    cached = other.cache_oids()
    assert 200 <= len(cached) < len(expected)
    rerun = other.json("fetch")
    assert (rerun["transferred"], rerun["skipped"]) == (len(expected) - len(cached), len(cached))
    other.cairn("checkout")
    assert workspace_files(other.root, "data") == many.files
    other.cairn("status", "-q")


@local_only
def test_pull_interrupted_with_ctrl_c(many, remote, clone, start_cairn):
    many.cairn("push")
    other = clone(many, "other", remote)
    other.cairn("config", "cache.pack_size", "16384")  # small packs: some are sealed before the signal
    proc = start_cairn("pull", "-j", "1", cwd=other.root)
    wait_until(lambda: len(other.cache_oids()) >= 100, proc, "100 objects were in the cache")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "interrupted: nothing half-written was kept; run the command again to finish"
    other.assert_cache_sound()
    other.cairn("pull")
    assert workspace_files(other.root, "data") == many.files
    assert not os.listdir(other.root / ".cairn" / "cache" / "tmp")
