"""The per-user cache (cairn.usercache): source repositories read through scm/foreign.py from
real local bare origins, held, aged, pruned and cleaned in a temp XDG_CACHE_HOME."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.environment import capture as capture_mod
from cairn.errors import ConfigError, UserInputError
from cairn.scm import foreign
from cairn.usercache import DEFAULT_MAX_AGE, auto_max_age, folder, parse_duration, root
from cairn.usercache.entries import info, list_kind
from cairn.usercache.hold import without_password
from cairn.usercache.prune import auto_prune, prune

DAY = 86400.0


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CAIRN_USER_CACHE_MAX_AGE", raising=False)
    return tmp_path / "xdg" / "cairn"


@pytest.fixture
def origin(tmp_path):
    """origin(name) -> path of a bare repository with one commit holding a pointer file."""

    def make(name: str) -> Path:
        work = tmp_path / f"{name}-work"
        work.mkdir()
        _git(work, "init", "-q")
        (work / "data.cairn").write_text(f"pointer of {name}\n")
        _git(work, "add", "-A")
        _git(work, "commit", "-qm", "one")
        _git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / f"{name}.git"))
        return tmp_path / f"{name}.git"

    return make


def _read(url: Path) -> None:
    """Read a source and let go of it, as a finished command does."""
    commit = foreign.open_commit(str(url))
    assert commit.read("data.cairn") is not None
    del commit
    gc.collect()


def _entry(url: Path) -> Path:
    (entry,) = [e for e in list_kind("repos", sizes=True).entries if e.source == str(url)]
    return entry.path


def _age(entry: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(entry.with_name(entry.name + ".used"), (t, t))


def test_durations_and_their_errors(monkeypatch):
    assert parse_duration("30d") == 30 * DAY
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("2w") == 14 * DAY
    assert parse_duration("90m") == 5400
    assert parse_duration("0") == 0
    for bad in ("30", "3x", "", "d"):
        with pytest.raises(UserInputError) as e:
            parse_duration(bad)
        assert "is not a duration" in e.value.message and "30d" in e.value.hint
    monkeypatch.delenv("CAIRN_USER_CACHE_MAX_AGE", raising=False)
    assert auto_max_age() == DEFAULT_MAX_AGE == 30 * DAY
    monkeypatch.setenv("CAIRN_USER_CACHE_MAX_AGE", "never")
    assert auto_max_age() is None
    monkeypatch.setenv("CAIRN_USER_CACHE_MAX_AGE", "7d")
    assert auto_max_age() == 7 * DAY
    monkeypatch.setenv("CAIRN_USER_CACHE_MAX_AGE", "soon")
    with pytest.raises(ConfigError) as e:
        auto_max_age()
    assert "$CAIRN_USER_CACHE_MAX_AGE is 'soon'" in e.value.message and "never" in e.value.hint


def test_the_cache_folder_follows_xdg_cache_home(cache):
    assert root() == cache
    assert foreign.cache_root() == folder("repos") == cache / "repos"
    assert capture_mod.user_cache_dir() == cache / "environment"


def test_a_read_records_its_use_and_stale_entries_go_while_fresh_ones_stay(cache, origin):
    old, new = origin("old"), origin("new")
    _read(old)
    _read(new)
    stale, fresh = _entry(old), _entry(new)
    stamp = stale.with_name(stale.name + ".used")
    _age(stale, 40)
    before = stamp.stat().st_mtime
    _read(old)  # a read is a use: the stamp moves to now, whatever git did or did not write
    assert stamp.stat().st_mtime > before + 39 * DAY
    _age(stale, 40)

    dry = prune(30 * DAY, dry_run=True)
    assert [e.path for e in dry.removed] == [stale] and stale.is_dir()  # a dry run removes nothing
    result = prune(30 * DAY)
    assert [e.source for e in result.removed] == [str(old)]
    assert result.bytes_removed > 0
    assert not stale.exists() and not stamp.exists() and not stale.with_name(stale.name + ".lock").exists()
    assert fresh.is_dir() and [e.path for e in result.kept] == [fresh]
    assert sorted(os.listdir(cache / "repos")) == sorted([fresh.name, fresh.name + ".used", fresh.name + ".lock"])
    _read(old)  # read again: cloned again
    assert _entry(old).is_dir()


def test_an_entry_in_use_is_never_removed(cache, origin):
    url = origin("busy")
    held = foreign.open_commit(str(url))
    entry = _entry(url)
    _age(entry, 400)
    result = prune(0)  # as `cairn cache clean`
    assert [e.path for e in result.in_use] == [entry] and result.removed == []
    assert held.read("data.cairn") == b"pointer of busy\n"
    # a prune in another process meets the same lock
    out = subprocess.run(
        [Path(sys.executable).parent / "cairn", "cache", "clean", "--json"], capture_output=True, text=True, check=True
    ).stdout
    assert [e["path"] for e in json.loads(out)["in_use"]] == [str(entry)]
    assert entry.is_dir()
    del held
    gc.collect()  # the command that read it is done
    assert [e.path for e in prune(0).removed] == [entry]
    assert not entry.exists()


def test_entries_older_than_stamps_use_their_own_time(cache, origin):
    url = origin("legacy")
    _read(url)
    entry = _entry(url)
    entry.with_name(entry.name + ".used").unlink()  # as a cairn before stamps left it
    t = time.time() - 40 * DAY
    os.utime(entry, (t, t))
    assert [e.path for e in prune(30 * DAY, dry_run=True).removed] == [entry]
    assert entry.with_name(entry.name + ".used").stat().st_mtime == pytest.approx(t, abs=1)  # adopted
    assert [e.path for e in prune(30 * DAY).removed] == [entry]


def test_interrupted_removals_and_creations_are_leftovers_not_entries(cache, origin):
    url = origin("src")
    _read(url)
    repos = cache / "repos"
    trash = repos / ".trash-0123456789ab"  # a removal killed after its rename
    (trash / "objects").mkdir(parents=True)
    (trash / "HEAD").write_text("ref: refs/heads/main\n")
    new_old, new_young = repos / ".new-aaaaaaaaaaaa", repos / ".new-bbbbbbbbbbbb"
    new_old.mkdir()
    new_young.mkdir()  # a clone being made right now
    t = time.time() - 2 * DAY
    os.utime(new_old, (t, t))
    orphan = repos / "feedfeedfeedfeed.git.used"  # the stamp of an entry removed by hand
    orphan.touch()
    listing = list_kind("repos", sizes=True)
    assert [e.source for e in listing.entries] == [str(url)]
    assert {p.name for p in listing.leftovers} == {trash.name, new_old.name, new_young.name, orphan.name}
    assert len(info()["leftovers"]) == 4
    result = prune(30 * DAY)
    assert {p.name for p in result.leftovers} == {trash.name, new_old.name, orphan.name}
    assert not trash.exists() and not new_old.exists() and not orphan.exists()
    assert new_young.exists() and _entry(url).is_dir()


def test_a_new_clone_prunes_what_was_unused_for_the_default_age(cache, origin, monkeypatch):
    a, b, c = origin("a"), origin("b"), origin("c")
    _read(a)
    entry = _entry(a)
    _age(entry, 31)
    _read(a)  # not a new clone: no pruning, and now a is fresh again
    _age(entry, 31)
    monkeypatch.setenv("CAIRN_USER_CACHE_MAX_AGE", "never")
    _read(b)  # a new clone, pruning turned off
    assert entry.is_dir()
    monkeypatch.delenv("CAIRN_USER_CACHE_MAX_AGE")
    _read(c)  # a new clone: a goes, b (just read) stays
    assert not entry.exists()
    assert {e.source for e in list_kind("repos", sizes=True).entries} == {str(b), str(c)}
    assert auto_prune() is not None
    monkeypatch.setenv("CAIRN_USER_CACHE_MAX_AGE", "never")
    assert auto_prune() is None


def test_environment_records_count_a_hit_as_a_use_and_are_pruned(cache):
    env_dir = capture_mod.user_cache_dir()
    capture_mod.capture((), env_dir, gpu_timeout=0.1)
    (record,) = env_dir.glob("*.json")
    t = time.time() - 40 * DAY
    os.utime(record, (t, t))
    capture_mod.capture((), env_dir, gpu_timeout=0.1)  # a hit: read, not rewritten, but used
    assert record.stat().st_mtime > t + 39 * DAY
    os.utime(record, (t, t))
    stale_tmp = env_dir / f".{record.name}.123.tmp"
    stale_tmp.write_text("{}")
    os.utime(stale_tmp, (t, t))
    result = prune(30 * DAY)
    assert [e.path for e in result.removed] == [record] and result.leftovers == [stale_tmp]
    assert list(env_dir.iterdir()) == []


def test_cluster_node_caches_are_held_by_their_runs_and_pruned_when_stale(cache, monkeypatch):
    from cairn.cluster import task

    monkeypatch.delenv(task.CACHE_ENV, raising=False)
    busy, idle = task.node_cache("/srv/git/busy.git"), task.node_cache("/srv/git/idle.git")
    assert busy.parent == folder("cluster") == cache / "cluster"  # XDG_CACHE_HOME, as the rest
    for node in (busy, idle):
        with task._held(node, f"https://me:s3cret@git.example.com/{node.name}.git"), task._slot(node) as work:
            work.mkdir(parents=True)
            (node / "objects").mkdir()
            (node / "objects" / "ab").write_bytes(b"x" * 100)
    (cache / "cluster" / "notes.txt").write_text("not ours")
    stamps = [n.with_name(n.name + ".used") for n in (busy, idle)]
    assert all(s.exists() for s in stamps)
    listed = {e.path: e.source for e in list_kind("cluster", sizes=True).entries}
    assert listed == {n: f"https://git.example.com/{n.name}.git" for n in (busy, idle)}  # no credentials
    for node in (busy, idle):
        _age(node, 40)
    with task._held(busy):  # a run going on: its stamp moves to now, and it is held
        assert stamps[0].stat().st_mtime > time.time() - 60
        _age(busy, 40)
        result = prune(30 * DAY)
        assert [e.path for e in result.in_use] == [busy] and [e.path for e in result.removed] == [idle]
        assert result.bytes_removed >= 100
    assert busy.is_dir() and not idle.exists() and not stamps[1].exists()
    assert (cache / "cluster" / "notes.txt").exists()  # not a cache entry: left alone
    assert list_kind("cluster").leftovers == []  # and not counted as a leftover either
    assert [e.path for e in prune(0).removed] == [busy]
    monkeypatch.setenv(task.CACHE_ENV, str(cache.parent / "nodes"))
    assert folder("cluster") == task.node_cache("x").parent == cache.parent / "nodes"


def test_a_node_cache_from_before_stamps_counts_its_last_run(cache, monkeypatch):
    from cairn.cluster import task

    monkeypatch.delenv(task.CACHE_ENV, raising=False)
    node = task.node_cache("/srv/git/old.git")
    with task._slot(node):  # as an older cairn ran it: a slot, no stamp
        pass
    t = time.time() - 40 * DAY
    os.utime(node, (t, t))
    assert [e.path for e in prune(30 * DAY, dry_run=True).kept] == [node]  # its run slot says: used now
    os.utime(node / "runs" / "0.lock", (t, t))
    assert [e.path for e in prune(30 * DAY).removed] == [node]


def test_without_a_home_folder(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    with pytest.raises(ConfigError) as e:
        root()
    assert e.value.message == "there is no home folder, so no per-user cache folder"
    assert e.value.hint == "set XDG_CACHE_HOME to a folder cairn may keep its per-user cache in"
    assert capture_mod.user_cache_dir() is None  # stage runs then keep it in .cairn/state


def test_a_label_keeps_no_password():
    assert without_password("https://me:s3cret@host/x.git") == "https://host/x.git"
    assert without_password("HTTPS://ghp_token@host/x") == "HTTPS://host/x"  # how tokens travel over https
    assert without_password("ftp://me:s3cret@host/x") == "ftp://me@host/x"
    assert without_password("s3://bucket/path") == "s3://bucket/path"
    assert without_password("ssh://git@host:22/repo") == "ssh://git@host:22/repo"
    assert without_password("/srv/store") == "/srv/store"
