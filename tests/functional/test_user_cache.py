"""`cairn cache dir | info | prune | clean`: the per-user cache of source repositories, their
remotes' indexes and environment records, driven through the real `cairn` console script with
XDG_CACHE_HOME in a temp folder; the sources are real git repositories behind local bare origins
whose data sits on a folder remote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.errors import ConfigError, UserInputError

DAY = 86400.0


class Cache:
    def __init__(self, xdg: Path, run_cairn, tmp_path: Path) -> None:
        self.xdg, self.dir = xdg, xdg / "cairn"
        self._run, self.cwd = run_cairn, tmp_path

    def cairn(self, *args: str, expect: int | None = 0, **env: str):
        return self._run(*args, cwd=self.cwd, expect=expect, env={"XDG_CACHE_HOME": str(self.xdg), **env})

    def json(self, *args: str, **env: str):
        return json.loads(self.cairn(*args, "--json", **env).stdout)

    def repo_of(self, url: Path) -> Path:
        (entry,) = [e for e in self.json("cache", "info")["entries"] if e["source"] == str(url)]
        return Path(entry["path"])

    def age(self, entry: Path, days: float) -> None:
        t = time.time() - days * DAY
        os.utime(entry.with_name(entry.name + ".used"), (t, t))


@pytest.fixture
def cache(tmp_path, run_cairn) -> Cache:
    return Cache(tmp_path / "xdg", run_cairn, tmp_path)


@pytest.fixture
def source(repo, git, tmp_path):
    """source(name) -> a bare origin of a cairn project tracking data/ on a folder remote."""

    def make(name: str) -> Path:
        repo.cairn("remote", "add", "-d", "store", str(tmp_path / "store"))
        repo.write({f"{name}.txt": f"data of {name}\n".encode()}, under="data")
        repo.cairn("add", "data")
        repo.cairn("push")
        repo.commit(name)
        origin = tmp_path / f"{name}.git"
        git("clone", "-q", "--bare", str(repo.root), str(origin), cwd=tmp_path)
        repo.cairn("remote", "remove", "store")
        return origin

    return make


def test_help_says_it_is_not_your_data(cache):
    top = " ".join(cache.cairn("--help").stdout.split())
    assert "per-user cache of other repositories (not your data)" in top
    text = " ".join(cache.cairn("cache", "--help").stdout.split())
    assert "NOT your data" in text and ".cairn/cache" in text and "`cairn gc`" in text
    assert "never touch it" in text and "in use" in text


def test_dir_info_and_what_reads_put_there(cache, source):
    assert cache.cairn("cache", "dir").stdout == f"{cache.dir}\n"
    empty = cache.json("cache", "info")
    assert empty["dir"] == str(cache.dir) and empty["bytes"] == 0 and empty["entries"] == []
    assert empty["auto_prune_after_seconds"] == 30 * DAY
    origin = source("one")
    assert "data/" in cache.cairn("ls", str(origin)).stdout
    cache.cairn("get", str(origin), "data", "-o", str(cache.cwd / "out"))
    doc = cache.json("cache", "info")
    kinds = doc["kinds"]
    assert kinds["repos"]["entries"] == 1 and kinds["repos"]["bytes"] > 0
    assert kinds["remotes"]["entries"] == 1 and kinds["remotes"]["bytes"] > 0
    assert doc["bytes"] == sum(k["bytes"] for k in kinds.values())
    (repo_entry,) = [e for e in doc["entries"] if e["kind"] == "repos"]
    assert repo_entry["source"] == str(origin) and repo_entry["last_used"].endswith("Z")
    assert Path(repo_entry["path"]).parent == cache.dir / "repos"
    (remote_entry,) = [e for e in doc["entries"] if e["kind"] == "remotes"]
    assert remote_entry["source"] == str(cache.cwd / "store")  # the data remote it indexes
    human = cache.cairn("-v", "cache", "info").stdout
    assert f"per-user cache: {cache.dir}" in human and "repos:       1 entries" in human and str(origin) in human


def test_prune_removes_stale_entries_keeps_fresh_ones_and_dry_run_removes_nothing(cache, source):
    old, new = source("old"), source("new")
    for origin in (old, new):
        cache.cairn("get", str(origin), "data", "-o", str(cache.cwd / f"out-{origin.stem}"))
    stale, fresh = cache.repo_of(old), cache.repo_of(new)
    cache.age(stale, 40)
    remotes = cache.dir / "remotes"
    (index,) = remotes.glob("*.db")  # one data remote for both sources
    cache.age(index, 40)

    dry = cache.json("cache", "prune", "--dry-run")
    assert dry["dry_run"] is True and {e["path"] for e in dry["removed"]} == {str(stale), str(index)}
    assert stale.is_dir() and index.is_file()
    human = cache.cairn("cache", "prune", "--dry-run").stdout
    assert f"would remove repos/{stale.name} ({old}), last used 40 days ago" in human
    assert stale.is_dir()

    done = cache.json("cache", "prune")
    assert {e["path"] for e in done["removed"]} == {str(stale), str(index)}
    assert done["bytes_removed"] > 0 and done["kept"] == 1 and done["in_use"] == []
    assert not stale.exists() and not index.exists() and fresh.is_dir()
    assert sorted(p.name for p in remotes.iterdir()) == []  # its stamp went with it
    # a later read simply clones again
    assert "data/" in cache.cairn("ls", str(old)).stdout
    assert cache.repo_of(old).is_dir()

    # --older-than: now everything is younger than a day, older than a second
    assert cache.json("cache", "prune", "--older-than", "1d")["removed"] == []
    time.sleep(1.1)
    assert len(cache.json("cache", "prune", "--older-than", "1s")["removed"]) == 2


def test_clean_removes_everything_not_in_use(cache, source, tmp_path):
    origin = source("one")
    cache.cairn("get", str(origin), "data", "-o", str(tmp_path / "out"))
    before = cache.json("cache", "info")
    out = cache.cairn("cache", "clean").stdout
    assert f"removed {len(before['entries'])} entries" in out
    after = cache.json("cache", "info")
    assert after["entries"] == [] and after["bytes"] == 0 and after["leftovers"] == []


def test_an_entry_a_cairn_process_is_reading_is_kept(cache, source, tmp_path, home):
    """A real `cairn ls` stopped in the middle of its fetch (git's pack-objects hook, from a global
    git config, waits for a file): prune and clean leave its repository; the read then finishes."""
    origin = source("busy")
    cache.cairn("ls", str(origin))
    entry = cache.repo_of(origin)
    cache.cairn("cache", "clean")  # the next read clones again, so git has objects to send
    started, go = tmp_path / "started", tmp_path / "go"
    gitconfig = tmp_path / "gitconfig"
    hook = f"touch {started}; while [ ! -e {go} ]; do sleep 0.05; done; exec"
    gitconfig.write_text(f'[uploadpack]\n\tpackObjectsHook = "{hook}"\n')
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CACHE_HOME": str(cache.xdg),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    reader = subprocess.Popen(
        [Path(sys.executable).parent / "cairn", "ls", str(origin)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while not started.exists() and reader.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert started.exists(), reader.communicate()
        cache.age(entry, 400)
        for args in (("prune",), ("clean",)):
            doc = cache.json("cache", *args)
            assert [e["path"] for e in doc["in_use"]] == [str(entry)] and doc["removed"] == []
        assert "kept repos/" in cache.cairn("cache", "clean").stdout
        assert entry.is_dir()
    finally:
        go.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert "data/" in out
    # done reading: its use was recorded (now), and nothing holds it any more
    assert cache.json("cache", "prune")["removed"] == []
    assert [e["path"] for e in cache.json("cache", "clean")["removed"]] == [str(entry)]


def test_a_new_clone_prunes_entries_unused_for_the_default_age(cache, source):
    a, b, c = source("a"), source("b"), source("c")
    cache.cairn("ls", str(a))
    stale = cache.repo_of(a)
    cache.age(stale, 31)
    cache.cairn("ls", str(b), CAIRN_USER_CACHE_MAX_AGE="never")  # turned off
    assert stale.is_dir()
    cache.cairn("ls", str(a))  # a read of a cached source: no prune, a is fresh again
    cache.age(stale, 31)
    cache.cairn("ls", str(c), CAIRN_USER_CACHE_MAX_AGE="40d")  # a longer age
    assert stale.is_dir()
    cache.cairn("ls", str(b))  # cached already: nothing pruned
    assert stale.is_dir()
    cache.json("cache", "clean")
    cache.cairn("ls", str(b))
    cache.age(cache.repo_of(b), 31)
    cache.cairn("ls", str(a))  # a new clone with the default age: b goes
    assert {e["source"] for e in cache.json("cache", "info")["entries"]} == {str(a)}


def test_bad_input(cache, assert_error, source):
    for bad in ("30", "soon"):
        proc = cache.cairn("cache", "prune", "--older-than", bad, expect=None)
        assert_error(proc, UserInputError, f"{bad!r} is not a duration", "30d (days)")
    origin = source("x")
    proc = cache.cairn("ls", str(origin), expect=None, CAIRN_USER_CACHE_MAX_AGE="a month")
    assert_error(proc, ConfigError, "$CAIRN_USER_CACHE_MAX_AGE is 'a month'", "or to `never`")
