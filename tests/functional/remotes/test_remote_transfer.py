"""push / fetch / pull between clones of one git repository, through a local folder remote and an
S3 remote (moto): every byte arrives, only missing objects move, small objects travel packed and
large ones loose, and status --remote tells what is where."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil

import pytest
from importtime import PROFILE_IMPORTS, imported
from remote_helpers import BIG_SIZE, PACK_SIZE, b3, objects_of, workspace_files

import cairn.api
from cairn.errors import ConfigError, CorruptObjectError, ObjectMissingError

TRACKED = ("data", "model.bin")
local_only = pytest.mark.parametrize("remote", ["local"], indirect=True)


def _result(transferred: int, nbytes: int, skipped: int) -> dict:
    return {"transferred": transferred, "bytes": nbytes, "skipped": skipped, "missing": [], "corrupt": []}


def test_push_then_pull_into_a_second_clone(source, remote, clone):
    expected = objects_of(source, *TRACKED)
    assert source.json("push") == _result(len(expected), sum(expected.values()), 0)

    # The remote holds exactly those objects: the large file loose, the rest in several packs.
    files = remote.files
    assert files.held() == set(expected)
    big = b3(source.files["data/big.bin"])
    assert files.loose() == {big: BIG_SIZE}
    packs = files.packs()
    assert len(packs) >= 3
    assert all(sum(size for _, _, size in rows) <= PACK_SIZE + 400 for rows in packs.values())
    files.assert_sound()
    layout = json.loads(files.read("cairn-remote.json"))
    assert set(layout) == {"version", "generation"} and layout["version"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", layout["generation"])

    # Nothing to push the second time.
    assert source.json("push") == _result(0, 0, len(expected))

    other = clone(source, "other", remote)
    status = other.json("status", "--remote")["remote"]
    assert (status["local_only"], status["remote_only"], status["both"]) == (0, len(expected), 0)
    pulled = other.json("pull")
    assert {k: pulled[k] for k in ("transferred", "bytes", "missing", "corrupt")} == {
        "transferred": len(expected),
        "bytes": sum(expected.values()),
        "missing": [],
        "corrupt": [],
    }
    assert workspace_files(other.root, *TRACKED) == source.files
    assert other.cache_oids() == set(expected)
    other.assert_cache_sound()
    other.cairn("status", "-q")
    status = other.json("status", "--remote")["remote"]
    assert (status["local_only"], status["remote_only"], status["both"]) == (0, 0, len(expected))

    proc = other.cairn("pull")
    assert proc.stdout.startswith(f"Everything is up to date ({len(expected)} object(s) already there).")


@local_only
def test_status_remote_counts_the_bytes_of_a_tracked_file_too(source, remote, clone):
    # model.bin is tracked on its own: a root with no tree entry to give its size; its bytes
    # were left out of local_only_bytes / remote_only_bytes
    files = {b3(data): len(data) for data in source.files.values()}
    assert source.json("status", "--remote")["remote"]["local_only_bytes"] == sum(files.values())
    source.cairn("push")
    other = clone(source, "other", remote)
    status = other.json("status", "--remote")["remote"]
    assert (status["local_only_bytes"], status["remote_only_bytes"]) == (0, sum(files.values()))


@local_only
def test_fetch_fills_the_cache_pull_also_checks_out(source, remote, clone):
    source.cairn("push")
    expected = objects_of(source, *TRACKED)
    other = clone(source, "other", remote)

    proc = other.cairn("fetch")
    assert proc.stdout == f"{len(expected)} object(s) fetched (2.0 MiB); 0 already there.\n"
    assert other.cache_oids() == set(expected)
    assert not (other.root / "data").exists() and not (other.root / "model.bin").exists()
    # Checking out needs no remote any more.
    other.cairn("remote", "modify", "store", "url", str(other.root / "gone"))
    other.cairn("checkout")
    assert workspace_files(other.root, *TRACKED) == source.files

    third = clone(source, "third", remote)
    pulled = third.json("pull")
    assert pulled["transferred"] == len(expected)
    assert sorted(c["path"] for c in pulled["checkout"]) == ["data", "model.bin"]
    assert workspace_files(third.root, *TRACKED) == source.files


def test_only_missing_objects_move(source, remote, clone):
    source.cairn("push")
    other = clone(source, "other", remote)
    other.cairn("pull")
    before = objects_of(source, *TRACKED)

    source.write({"data/s0/t0/f000.bin": b"changed", "data/s1/new.bin": b"new file"})
    source.cairn("add", "data")
    source.commit("data v2")
    new = {oid: size for oid, size in objects_of(source, *TRACKED).items() if oid not in before}
    assert len(new) == 2 + 4  # two files; the trees data, data/s0, data/s0/t0 and data/s1
    pushed = source.json("push")
    assert (pushed["transferred"], pushed["bytes"]) == (len(new), sum(new.values()))

    other.git("pull", "-q", "--ff-only")
    pulled = other.json("pull")
    assert (pulled["transferred"], pulled["bytes"]) == (len(new), sum(new.values()))
    assert workspace_files(other.root, "data") == workspace_files(source.root, "data")


def test_pull_into_a_fresh_clone_keeps_every_detail(repo, remote, clone):
    """A tracked folder the clone lacks is written while its objects arrive (then moved into
    place whole); the checkout writes the rest. Either way every detail arrives: identical
    files in two places, the executable bit, empty folders, a folder in a subfolder."""
    remote.configure(repo)
    repo.write(
        {
            "data/a/same.bin": b"same bytes",
            "data/b/same.bin": b"same bytes",
            "data/run.sh": b"#!/bin/sh\necho hi\n",
            "data/c/d/deep.bin": b"deep",
            "data/c/e.bin": b"",
            "nested/img/x.bin": b"x",
        }
    )
    (repo.root / "data" / "run.sh").chmod(0o755)
    (repo.root / "data" / "empty" / "inner").mkdir(parents=True)
    repo.cairn("add", "data", "nested/img")
    repo.commit("data")
    repo.cairn("push")
    other = clone(repo, "other", remote)
    # an object the clone's cache already has is not fetched: the checkout writes its file
    deep = b3(b"deep")
    other.object_path(deep).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(repo.object_path(deep), other.object_path(deep))

    pulled = other.json("pull")
    assert pulled["skipped"] == 1
    tracked = ("data", "nested")
    expected = workspace_files(repo.root, *tracked)
    assert workspace_files(other.root, *tracked) == expected
    assert {c["path"]: sorted(c["written"]) for c in pulled["checkout"]} == {
        "data": sorted(k for k in expected if k.startswith("data/")),
        "nested/img": ["nested/img/x.bin"],
    }
    assert os.access(other.root / "data" / "run.sh", os.X_OK)
    assert not os.access(other.root / "data" / "a" / "same.bin", os.X_OK)
    assert (other.root / "data" / "empty" / "inner").is_dir()
    other.cairn("status", "-q")
    assert not [p.name for p in (other.root / ".cairn" / "tmp").iterdir() if p.name.startswith("pull-")]
    assert "Workspace already matches" in other.cairn("checkout").stdout


@local_only
def test_push_and_pull_targets(source, remote, clone):
    pushed = source.json("push", "model.bin")
    assert pushed["transferred"] == 1
    assert remote.files.held() == {b3(source.files["model.bin"])}

    other = clone(source, "other", remote)
    other.cairn("pull", "model.bin")
    assert (other.root / "model.bin").read_bytes() == source.files["model.bin"]
    assert not (other.root / "data").exists()


@local_only
def test_status_remote_counts(source, remote, clone):
    expected = objects_of(source, *TRACKED)
    proc = source.cairn("status", "--remote")
    assert proc.stdout.splitlines()[-1] == (
        f"remote: {len(expected)} object(s) only local (`cairn push` sends them), "
        "0 only on the remote (`cairn pull` gets them), 0 in both"
    )
    source.cairn("push")
    source.write({"model.bin": b"weights v2"})
    source.cairn("add", "model.bin")
    doc = source.json("status", "-r", "store")
    assert doc["remote"]["local_only"] == 1
    assert doc["remote"]["objects"]["local_only"] == [b3(b"weights v2")]
    assert doc["remote"]["both"] == len(expected) - 1
    assert doc["changed"] is True
    # -q: exit 1 while anything is only on one side
    source.cairn("status", "--remote", "-q", expect=1)
    source.cairn("push")
    source.cairn("status", "--remote", "-q")


def test_scopes_all_branches_tags_commits(repo, local_remote, clone, git):
    """push/fetch move the workspace's versions by default, and with --all-branches, --all-tags
    and --all-commits what branch tips, tags or any commit reference."""
    source = repo
    local_remote.configure(source)

    def version(name: str, content: bytes) -> dict[str, int]:
        source.write({"data/a.bin": b"a" * 100, "data/sub/b.bin": content})
        source.cairn("add", "data")
        source.commit(name)
        return objects_of(source, "data")

    v1 = version("v1", b"one")  # only in history once v2 is committed
    v2 = version("v2", b"two")  # main's tip: the workspace
    source.git("checkout", "-q", "-b", "feature")
    v3 = version("v3", b"three")  # the tip of branch feature
    source.git("checkout", "-q", "-b", "tagged", "main")
    v4 = version("v4", b"four")  # reachable from a tag only
    source.git("tag", "t1")
    source.git("checkout", "-q", "main")
    source.git("branch", "-q", "-D", "tagged")
    source.cairn("checkout")

    held = local_remote.files.held
    everything = set(v1) | set(v2) | set(v3) | set(v4)
    for scope, version, now_held in [
        ([], v2, set(v2)),
        (["--all-branches"], v3, set(v2) | set(v3)),
        (["--all-tags"], v4, set(v2) | set(v3) | set(v4)),
        (["--all-commits"], v1, everything),
    ]:
        before = held()
        assert source.json("push", *scope)["transferred"] == len(set(version) - before), scope
        assert held() == now_held, scope

    other = clone(source, "other")
    # --all-branches means local branches, as in git and DVC: make origin/feature one.
    git("branch", "-q", "feature", "origin/feature", cwd=other.root)
    cache = other.cache_oids
    for scope, reachable in [
        ([], set(v2)),
        (["--all-tags"], set(v2) | set(v4)),
        (["--all-branches"], set(v2) | set(v3)),
        (["--all-commits"], everything),
    ]:
        before = cache()
        fetched = other.json("fetch", *scope)
        assert cache() == before | reachable, scope
        # every reachable object counted once: fetched, or skipped because the cache has it
        assert fetched["transferred"] == len(reachable - before), scope
        assert fetched["skipped"] == len(reachable & before), scope
    other.assert_cache_sound()


def test_relative_remote_path_is_relative_to_the_repo_root(repo, clone):
    repo.write({"data/x.bin": b"x" * 10})
    repo.cairn("add", "data")
    repo.cairn("remote", "add", "-d", "store", "../shared-remote")
    repo.commit("v1")
    repo.cairn("push", cwd=repo.root / "data")  # from a subfolder
    assert (repo.root.parent / "shared-remote" / "cairn-remote.json").is_file()
    other = clone(repo, "other")  # a sibling, so ../shared-remote is the same folder
    other.cairn("pull")
    assert (other.root / "data" / "x.bin").read_bytes() == b"x" * 10


class _Requests(logging.Handler):
    """The requests the in-process moto server answers, from its (werkzeug) access log."""

    def __init__(self, bucket: str) -> None:
        super().__init__(logging.INFO)
        self.bucket = bucket
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if f" /{self.bucket}" in msg:
            self.lines.append(msg)

    def take(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in self.lines:
            method = line.split('"', 2)[1].split()[0].lstrip("\x1b[0123456789;m")
            counts[method] = counts.get(method, 0) + 1
        self.lines.clear()
        return counts


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_request_count_does_not_grow_with_object_count(source, remote, clone):
    """Packs keep requests few: the remote's content comes from a few listings, small objects
    travel packed, and "nothing to push" costs a handful of requests, however many objects."""
    log = logging.getLogger("werkzeug")
    requests = _Requests(remote.files.bucket)
    old_level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(requests)
    try:
        objects = len(objects_of(source, *TRACKED))
        source.cairn("push")
        pushed = requests.take()
        packs = len(remote.files.packs())
        requests.take()  # (the listing just made by this test)
        assert packs >= 3 and objects > 5 * packs
        # pack + index each, the loose file, the layout, the push's lock and its root record
        assert pushed["PUT"] == 2 * packs + 1 + 1 + 1 + 1, pushed
        assert pushed["DELETE"] == 1, pushed  # the lock, released
        assert sum(pushed.values()) < objects, pushed

        source.cairn("push")
        again = requests.take()
        assert again == {"GET": 1}, again  # the remote's generation: nothing was deleted since

        other = clone(source, "other", remote)
        other.cairn("pull")
        pulled = requests.take()
        # The listings, each index once, then ranges of packs, one tree level at a time (a tree
        # must be read before its children are known).
        assert set(pulled) == {"GET"}, pulled
        assert sum(pulled.values()) < objects, pulled
    finally:
        log.removeHandler(requests)
        log.setLevel(old_level)


# Modules that only the full S3 client loads (botocore's signer alone signs the one request of
# a push with nothing to do).
S3_CLIENT = ("s3fs", "aiobotocore", "aiohttp")


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_push_with_nothing_to_do_loads_no_s3_client(source, remote, clone):
    """cairn remembers what the remote holds; with the remote's generation unchanged, a push
    with nothing to do reads that one key with a request it sends without the s3fs client."""
    profile = PROFILE_IMPORTS
    first = source.cairn("push", env=profile)
    assert set(S3_CLIENT) <= imported(first)  # the real transfer uses s3fs
    again = source.cairn("push", "--json", env=profile)
    assert json.loads(again.stdout)["transferred"] == 0
    assert not set(S3_CLIENT) & imported(again)
    # A new version to push takes the full path again; then nothing to do is cheap again.
    source.write({"model.bin": b"weights v2"})
    source.cairn("add", "model.bin")
    assert source.json("push")["transferred"] == 1
    assert not set(S3_CLIENT) & imported(source.cairn("push", env=profile))
    # A clone that pulled has never pushed these roots: its first push lists the remote.
    other = clone(source, "other", remote)
    other.cairn("pull")
    assert set(S3_CLIENT) <= imported(other.cairn("push", env=profile))
    assert not set(S3_CLIENT) & imported(other.cairn("push", env=profile))


def test_api_read_streams_from_the_remote_without_a_pull(source, remote, clone):
    """A clone that never pulled reads tracked files through cairn.api straight from the remote
    (trees included, verified, at any revision); nothing lands in its cache."""
    source.cairn("push")
    v1_small = source.files["data/s0/t0/f000.bin"]
    source.write({"data/s0/t0/f000.bin": b"version two"})
    source.cairn("add", "data")
    source.commit("data v2")
    source.cairn("push")
    other = clone(source, "reader", remote)

    big = cairn.api.read("data/big.bin", repo=other.root, remote="store")
    assert big == source.files["data/big.bin"]  # a large object, stored loose
    assert cairn.api.read("data/s0/t0/f000.bin", repo=other.root) == b"version two"  # default remote
    assert cairn.api.read("data/s0/t0/f000.bin", rev="HEAD~1", repo=other.root) == v1_small
    with cairn.api.open("model.bin", mode="rb", repo=other.root, remote="store") as f:
        assert f.read() == source.files["model.bin"]
    with cairn.api.open("data/big.bin", mode="rb", repo=other.root) as f:  # streamed to a temp file
        assert f.read(10) == source.files["data/big.bin"][:10]
        assert f.read() == source.files["data/big.bin"][10:]
    with cairn.api.open("data/s0/t0/f000.bin", repo=other.root, encoding="latin-1") as f:
        assert f.read() == "version two"
    assert other.cache_oids() == set()
    assert not list((other.root / ".cairn" / "cache").rglob("read.*"))  # no temp file left behind


@local_only
def test_api_read_refuses_a_damaged_remote_copy_and_says_where_to_read_from(source, remote, clone):
    source.cairn("push")
    other = clone(source, "reader", remote)
    oid = b3(source.files["data/s1/t1/f004.bin"])
    remote.files.corrupt(oid)
    with pytest.raises(CorruptObjectError, match=f"object {oid} on remote 'store' is corrupt"):
        cairn.api.read("data/s1/t1/f004.bin", repo=other.root)
    with pytest.raises(ConfigError, match="there is no remote named 'elsewhere'"):
        cairn.api.read("model.bin", repo=other.root, remote="elsewhere")
    other.cairn("remote", "remove", "store")
    with pytest.raises(ObjectMissingError, match="not in the cache and no remote is set") as e:
        cairn.api.read("model.bin", repo=other.root)
    assert "remote=NAME" in (e.value.hint or "")


@local_only
def test_transfers_show_files_and_bytes_on_a_terminal_and_nothing_when_piped(source, remote, clone, on_terminal):
    expected = objects_of(source, *TRACKED)
    n, total = len(expected), f"{sum(expected.values()) / 2**20:.1f} MiB"
    code, shown = on_terminal("push", cwd=source.root)
    assert code == 0
    # frames of the bar (files, and bytes moved of the whole) up to the last, then the summary
    assert re.search(rf"push to store .* 0/{n} files +0 B / {total}", shown), shown
    assert re.search(rf"push to store .* {n}/{n} files +{total} / {total}", shown), shown
    assert f"{n} object(s) pushed ({total})" in shown

    other = clone(source, "other", remote)
    code, shown = on_terminal("pull", cwd=other.root)
    assert code == 0
    assert re.search(rf"fetch from store .* {n}/{n} files +{total} / {total}", shown), shown
    assert f"{n} object(s) fetched ({total})" in shown

    piped = clone(source, "piped", remote).cairn("pull")  # stdout and stderr are pipes
    assert piped.stderr == "" and "fetch from" not in piped.stdout


@local_only
def test_a_remote_index_of_the_first_format_is_listed_again(source, remote):
    """An index written before version 2 (64-hex text keys) is not read as it is: the next push
    lists the remote again and sends only what it lacks."""
    import sqlite3

    source.cairn("push")
    (db_path,) = (source.root / ".cairn" / "state" / "remotes").glob("store-*.db")
    generation = json.loads((remote.files.folder / "cairn-remote.json").read_text())["generation"]
    db = sqlite3.connect(db_path)
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        db.execute(f"DROP TABLE {table}")
    db.executescript(
        """
        CREATE TABLE objects (oid TEXT PRIMARY KEY, pack TEXT, off INTEGER, size INTEGER) WITHOUT ROWID;
        CREATE TABLE packs (id TEXT PRIMARY KEY, size INTEGER) WITHOUT ROWID;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
        CREATE TABLE complete (roots TEXT PRIMARY KEY, objects INTEGER) WITHOUT ROWID;
        PRAGMA user_version = 0;
        """
    )
    db.execute("INSERT INTO meta VALUES ('generation', ?)", (generation,))
    db.commit()
    db.close()
    before = objects_of(source, *TRACKED)
    source.write({"data/s0/t0/f000.bin": b"changed again"})
    source.cairn("add", "data")
    source.commit("data v2")
    new = {oid: size for oid, size in objects_of(source, *TRACKED).items() if oid not in before}
    pushed = source.json("push")
    assert (pushed["transferred"], pushed["bytes"], pushed["missing"]) == (len(new), sum(new.values()), [])
    assert remote.files.held() == set(objects_of(source, *TRACKED)) | set(before)
    remote.files.assert_sound()
