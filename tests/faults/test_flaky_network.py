"""A flaky network between cairn and S3: `cairn push` and `cairn pull` through a fault-injecting
reverse proxy (netfaults.FaultProxy) in front of the moto server, the remote's `endpoint_url`
pointed at the proxy.

The proxy is our own, a few dozen lines of the standard library, not mitmproxy: mitmproxy's
addon API would fit, but it is a large dependency (its own TLS stack, web UI and dozens of
packages) for this, and it runs as a second process to start, wait for and stop. Ours runs in
the test's process and injects faults by a schedule (every n-th request, at most k faults per
request, from a given point on), so the faults are what the test says, and a request can never
fail more often than the retries allow by bad luck.

Scenarios, each on a folder of 300 small files (packed) and one file above the 2 MiB pack
threshold (stored loose):
1. 20% of requests answered 503 SlowDown or 500 InternalError, in turn;
2. every request's connection dropped once, mid-request (half a body read, or the request
   forwarded and its answer lost);
3. every answer with a body cut off half way once (its true Content-Length sent);
4. 50 ms added to every request.
Each push and pull completes and a fresh clone gets the right bytes. Then:
5. faults that do not stop (503s on push, dropped connections on pull, from some point on;
   AWS_MAX_ATTEMPTS=2, so the test waits for fewer retries):
   the command fails with RemoteUnreachableError (exit 8, docs/errors.md) naming the remote's
   URL, the last failure and the attempts; the local index of the remote lists only objects
   that are on the remote; a rerun once the faults stop moves only what is missing.
The no-op push's one-request fast path (storage/s3light.py) falls back to the full client on a
503 or a dropped connection.

Each test prints its figures (requests, faults injected; all survived when the command
completed): `pytest tests/faults/test_flaky_network.py -q -s`."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path, PurePosixPath

import pytest
from blake3 import blake3
from netfaults import FaultProxy, Schedule
from s3server import KEY_ID, SECRET, moto_endpoint, new_bucket, s3_client  # noqa: F401 - fixture

from cairn.errors import RemoteUnreachableError

SMALL = 300
BIG = 2 * 1024 * 1024 + 4321  # above the 2 MiB pack threshold: travels loose
PACK_SIZE = 32 * 1024  # a dozen packs or so, so a push is many requests
# The standard AWS setting, honoured by cairn: each failing command waits for fewer retries.
TWO_ATTEMPTS = {"AWS_MAX_ATTEMPTS": "2"}
HINT = (
    "check the URL and endpoint_url (`cairn remote list`) and your network connection; once the storage "
    "answers, run the command again: only what is still missing moves"
)


def objects() -> int:
    """How many objects data/ is: its files (all different) and its folders (a tree each)."""
    folders = {parent for rel in _files() for parent in PurePosixPath(rel).parents if parent.name}
    return len(_files()) + len(folders)


def _files() -> dict[str, bytes]:
    rng = random.Random(14)
    files = {f"data/d{i % 6}/e{i % 4}/f{i:03d}.bin": rng.randbytes(rng.randrange(40, 2500)) for i in range(SMALL)}
    files["data/big.bin"] = rng.randbytes(BIG)
    return files


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str):  # noqa: F811 - the fixture imported above
    p = FaultProxy(moto_endpoint).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def template(tmp_path_factory, _templates, proxy, run_cairn, git) -> Path:
    """A repository with data/ added and an S3 remote `store` reached through the proxy, all
    committed (built once; copied per test, which gives the remote its own bucket)."""
    root = tmp_path_factory.mktemp("flaky") / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    for rel, data in _files().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    run_cairn("add", "data", cwd=root)
    for args in (
        ("remote", "add", "-d", "store", "s3://placeholder/project"),
        ("remote", "modify", "store", "endpoint_url", proxy.url),
        ("remote", "modify", "store", "pack_size", str(PACK_SIZE)),
        ("remote", "modify", "store", "access_key_id", KEY_ID, "--local"),
        ("remote", "modify", "store", "secret_access_key", SECRET, "--local"),
    ):
        run_cairn(*args, cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "data", cwd=root)
    return root


class Side:
    """A project (the source, or a clone) talking to its own bucket through the proxy."""

    def __init__(self, root: Path, run_cairn, git) -> None:
        self.root, self._run, self._git = root, run_cairn, git

    def cairn(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None):
        # the timeout is the bound: a command that hangs on a dead network fails the test
        return self._run(*args, cwd=self.root, expect=expect, env=env, timeout=180)

    def index_rows(self) -> list[tuple[str, str | None, int, int]]:
        """(oid, pack or None, offset, size) of every object the local index of the remote lists."""
        (db,) = (self.root / ".cairn" / "state" / "remotes").glob("store-*.db")
        with sqlite3.connect(db) as conn:  # the index's version 2: blob ids, packs by number
            rows = conn.execute("SELECT o.oid, p.id, o.off, o.size FROM objects o LEFT JOIN packs p ON p.n = o.pack")
            return [(oid.hex(), pack, off, size) for oid, pack, off, size in rows]


@pytest.fixture
def source(tmp_path, template, proxy, moto_endpoint, run_cairn, git) -> Side:  # noqa: F811
    root = tmp_path / "source"
    shutil.copytree(template, root, symlinks=True)
    side = Side(root, run_cairn, git)
    side.bucket = new_bucket(moto_endpoint)
    side.remote = Bucket(moto_endpoint, side.bucket)
    side.cairn("remote", "modify", "store", "url", f"s3://{side.bucket}/project")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "remote", cwd=root)
    proxy.use(Schedule(None))
    return side


@pytest.fixture
def clone(tmp_path, source, run_cairn, git):
    def make(name: str = "clone") -> Side:
        root = tmp_path / name
        git("clone", "-q", str(source.root), str(root), cwd=tmp_path)
        side = Side(root, run_cairn, git)
        local = Path(".cairn", "config.local.toml")  # the credentials, which git does not carry
        shutil.copy(source.root / local, root / local)
        return side

    return make


class Bucket:
    """The remote's keys, read with boto3 straight from moto (past the proxy)."""

    def __init__(self, endpoint: str, bucket: str) -> None:
        self.s3, self.bucket = s3_client(endpoint), bucket

    def keys(self) -> dict[str, int]:
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="project/"):
            out.update({o["Key"][len("project/") :]: o["Size"] for o in page.get("Contents", [])})
        return out

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=f"project/{key}")["Body"].read()


def assert_index_true(side: Side, bucket: Bucket) -> set[str]:
    """Every object the local index of the remote lists is on the remote, whole: its pack and the
    pack's index both uploaded, its bytes there and matching its id. Returns those objects."""
    keys = bucket.keys()
    packs: dict[str, bytes] = {}
    listed = set()
    for oid, pack, off, size in side.index_rows():
        if pack is None:
            key = f"objects/{oid[:2]}/{oid[2:]}"
            assert key in keys, f"the index lists {oid} loose, the remote lacks it"
            data = bucket.read(key)
        else:
            assert f"packs/{pack}.idx" in keys, f"the index lists pack {pack}, whose index was never uploaded"
            assert f"packs/{pack}.pack" in keys, f"the index lists pack {pack}, which was never uploaded"
            if pack not in packs:
                packs[pack] = bucket.read(f"packs/{pack}.pack")
            data = packs[pack][off : off + size]
        assert blake3(data).hexdigest() == oid, f"{oid} on the remote does not match its id"
        listed.add(oid)
    return listed


def cached_objects(cache: Path) -> set[str]:
    """The ids of the objects in a cache, loose or in its local packs, each checked against its bytes."""
    ids = set()
    for path in (p for p in (cache / "objects").rglob("*") if p.is_file()):
        assert blake3(path.read_bytes()).hexdigest() == path.parent.name + path.name
        ids.add(path.parent.name + path.name)
    for idx in (cache / "packs").glob("*.idx"):
        data = idx.with_suffix(".pack").read_bytes()
        for oid, off, size in json.loads(idx.read_bytes())["objects"]:
            assert blake3(data[off : off + size]).hexdigest() == oid
            ids.add(oid)
    return ids


def workspace(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}


def figures(label: str, proxy: FaultProxy, completed: bool) -> dict[str, int]:
    counts = proxy.figures()
    faults = sum(n for k, n in counts.items() if k not in ("requests", "answered"))
    print(
        f"\n[flaky-network] {label}: {counts.get('requests', 0)} requests, {faults} faults injected "
        f"({', '.join(f'{k} {n}' for k, n in sorted(counts.items()) if k not in ('requests', 'answered'))}), "
        f"{'all survived' if completed else 'the command failed'}"
    )
    return counts


SCENARIOS = {
    # kind(s), every, per_request: a cap below the 5 attempts, so each request gets through
    "503-500": Schedule(("slowdown", "error"), every=5, per_request=2),
    "dropped": Schedule("drop", every=1, per_request=1),
    "truncated": Schedule("truncate", every=1, per_request=1),
    "latency": Schedule("latency", every=1, delay=0.05),
}


def _fresh(name: str) -> Schedule:
    s = SCENARIOS[name]
    return Schedule(s.kinds, s.every, s.per_request, s.after, s.only, s.delay)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_push_and_pull_complete_through_faults(scenario, source, clone, proxy):
    files = _files()
    proxy.use(_fresh(scenario))
    pushed = json.loads(source.cairn("push", "--json").stdout)
    counts = figures(f"{scenario} push", proxy, completed=True)
    assert pushed["transferred"] == objects()
    assert pushed["missing"] == [] and pushed["corrupt"] == []
    assert counts.get("requests", 0) > counts.get("answered", 0) or scenario == "latency"
    assert sum(n for k, n in counts.items() if k not in ("requests", "answered")) > 0
    assert_index_true(source, source.remote)
    if scenario == "dropped":  # the large file's upload among them, half its body sent
        assert ("drop", "PUT") in {(k, m) for k, m, p in proxy.faulted if "/objects/" in p}

    other = clone()
    proxy.use(_fresh(scenario))
    other.cairn("pull")
    counts = figures(f"{scenario} pull", proxy, completed=True)
    assert sum(n for k, n in counts.items() if k not in ("requests", "answered")) > 0
    if scenario in ("dropped", "truncated"):  # the large file's download among them
        assert {(k, m) for k, m, p in proxy.faulted if "/objects/" in p} == {(SCENARIOS[scenario].kinds[0], "GET")}
    assert workspace(other.root) == files
    for oid_path in (other.root / ".cairn" / "cache" / "objects").rglob("*"):
        if oid_path.is_file():
            assert blake3(oid_path.read_bytes()).hexdigest() == oid_path.parent.name + oid_path.name


def test_nothing_to_push_survives_a_fault_on_its_one_request(source, proxy):
    source.cairn("push")
    for kind in ("slowdown", "drop"):
        # the fast path's one GET fails (it has no retries of its own); the full client's passes
        proxy.use(Schedule(kind, per_request=1))
        out = source.cairn("push").stdout
        counts = figures(f"no-op push, first request {kind}", proxy, completed=True)
        assert out.startswith("Everything is up to date")
        assert counts.get(kind, 0) == 1 and counts.get("answered", 0) >= 1


def test_push_fails_clearly_when_faults_do_not_stop_and_a_rerun_sends_the_rest(source, proxy, assert_error):
    bucket = source.remote
    # the first few uploads go through, then every request is answered 503 SlowDown
    proxy.use(Schedule("slowdown", after=("PUT", 6)))
    proc = source.cairn("push", "-j", "1", expect=None, env=TWO_ATTEMPTS)
    figures("push, 503 from the 7th upload on", proxy, completed=False)
    assert_error(
        proc,
        RemoteUnreachableError,
        "the storage kept failing (HTTP 503 SlowDown: Please reduce your request rate.) after 2 attempt(s)",
        HINT,
    )
    # named: the remote's URL and the operation that failed last (today that is the release of
    # the remote lock, remotes/lock.py, which fails too and hides the upload that failed first)
    assert proc.stderr.startswith(f"error: s3://{source.bucket}/project: "), proc.stderr
    held = assert_index_true(source, bucket)  # nothing recorded that is not there
    assert held, "some uploads went through before the faults began"

    proxy.use(Schedule(None))
    rerun = json.loads(source.cairn("push", "--json").stdout)
    figures(f"push rerun, no faults: {rerun['transferred']} sent, {rerun['skipped']} already there", proxy, True)
    assert rerun["skipped"] == len(held)  # what made it is not sent again
    assert rerun["skipped"] + rerun["transferred"] == objects()
    assert len(assert_index_true(source, bucket)) == objects()


def test_pull_fails_clearly_when_faults_do_not_stop_and_a_rerun_fetches_the_rest(source, clone, proxy, assert_error):
    source.cairn("push")
    other = clone()
    # the first few downloads go through, then every connection is dropped
    proxy.use(Schedule("drop", after=("RANGE", 8)))
    proc = other.cairn("pull", "-j", "1", expect=None, env=TWO_ATTEMPTS)
    figures("pull, connections dropped after 8 range reads", proxy, completed=False)
    assert_error(
        proc,
        RemoteUnreachableError,
        "cannot reach the storage (Connection was closed before we received a valid response from endpoint URL",
        HINT,
    )
    assert proc.stderr.startswith(f"error: s3://{source.bucket}/project: reading packs/"), proc.stderr
    cached = cached_objects(other.root / ".cairn" / "cache")  # each checked: nothing partial was stored
    assert cached, "some downloads went through before the faults began"
    assert not (other.root / "data").exists()

    proxy.use(Schedule(None))
    rerun = json.loads(other.cairn("pull", "--json").stdout)
    figures(f"pull rerun, no faults: {rerun['transferred']} fetched, {rerun['skipped']} already there", proxy, True)
    assert (rerun["skipped"], rerun["transferred"]) == (len(cached), objects() - len(cached))
    assert workspace(other.root) == _files()


def test_a_failing_network_is_not_taken_for_a_missing_bucket(source, proxy, assert_error):
    # a first push asks whether the bucket exists (HEAD): every such question is answered 503
    proxy.use(Schedule("slowdown", only=lambda method, path: method == "HEAD"))
    proc = source.cairn("push", expect=None, env=TWO_ATTEMPTS)
    figures("first push, every HEAD answered 503", proxy, completed=False)
    assert_error(
        proc,
        RemoteUnreachableError,
        f"s3://{source.bucket}/project: checking the location: the storage kept failing (HTTP 503: Service "
        "Unavailable) after 2 attempt(s)",
        HINT,
    )


@pytest.mark.parametrize(
    "kind, failure",
    [
        (
            "error",
            "the storage kept failing (HTTP 500 InternalError: We encountered an internal error. Please try again.)",
        ),
        ("truncate", "the connection kept breaking off mid-answer (Response payload is not completed"),
    ],
    ids=["500", "cut-off"],
)
def test_a_lasting_failure_is_named(kind, failure, source, proxy, assert_error):
    proxy.use(Schedule(kind))
    proc = source.cairn("push", expect=None, env=TWO_ATTEMPTS)
    figures(f"push, every request {kind}", proxy, completed=False)
    assert_error(
        proc, RemoteUnreachableError, f"s3://{source.bucket}/project: reading cairn-remote.json: {failure}", HINT
    )
    assert "after 2 attempt(s)" in proc.stderr
