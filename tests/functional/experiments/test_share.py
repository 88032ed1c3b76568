"""Sharing experiments: `exp push GIT_REMOTE [NAME...]` and `exp pull GIT_REMOTE` move the refs
through a (bare) git remote and the outputs through the cairn remote (a local folder here)."""

from __future__ import annotations

import json
import socket

import pytest

from cairn.errors import RemoteUnreachableError, UserInputError


@pytest.fixture
def shared(exp_repo, tmp_path, git):
    """exp_repo with a default cairn remote (committed) and a bare git remote `origin` holding main."""
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    exp_repo.cairn("remote", "add", "-d", "store", str(tmp_path / "store"))
    exp_repo.commit("cairn remote")
    exp_repo.git("remote", "add", "origin", str(bare))
    exp_repo.git("push", "-q", "origin", "main")
    exp_repo.cairn("push")
    return exp_repo, bare


def clone(tmp_path, git, bare, name: str = "clone"):
    root = tmp_path / name
    git("clone", "-q", str(bare), str(root), cwd=tmp_path)
    git("config", "user.name", "Second Tester", cwd=root)
    git("config", "user.email", "second@example.com", cwd=root)
    return root


def test_push_and_pull_experiments_with_their_data(shared, tmp_path, git, run_cairn):
    repo, bare = shared
    repo.exp("run", "--queue", "-n", "s", "-S", "train.lr=0.2,0.3", "-S", "prepare.rows=5")
    repo.exp("run", "--run-all", "-j", "2")

    assert repo.exp("push", "origin").stdout == "Pushed 2 experiment(s) to origin.\n"
    remote_refs = git("for-each-ref", "--format=%(refname) %(objectname)", "refs/cairn/", cwd=bare).split("\n")
    assert sorted(filter(None, remote_refs)) == sorted(f"{e['ref']} {e['commit']}" for e in repo.listed().values())

    other = clone(tmp_path, git, bare)
    assert not any((other / ".cairn" / "cache").glob("objects/*/*"))  # a fresh clone: no data
    proc = run_cairn("exp", "pull", "origin", cwd=other)
    assert proc.stdout == "Pulled 2 new experiment(s) from origin.\n"
    rows = {r["name"]: r for r in json.loads(run_cairn("exp", "show", "--json", cwd=other).stdout)}
    assert {n: (r["params.train.lr"], r["metrics.acc"]) for n, r in rows.items()} == {
        "s-1": (0.2, 0.82),
        "s-2": (0.3, 0.72),
    }

    # the second clone applies an experiment with its data, never having run anything
    run_cairn("exp", "apply", "s-2", cwd=other)
    assert (other / "model" / "weights.txt").read_text() == "lr=0.3 depth=2 rows=5\n"
    assert (other / "data" / "features.txt").read_text().count("\n") == 5
    assert json.loads(run_cairn("status", "--json", cwd=other).stdout)["stages"] == {}

    # pulling again brings nothing new
    assert run_cairn("exp", "pull", "origin", cwd=other).stdout == "Pulled 0 new experiment(s) from origin.\n"


def test_push_named_experiments_only(shared, git):
    repo, bare = shared
    repo.exp("run", "--queue", "-n", "n", "-S", "train.lr=0.2,0.3")
    repo.exp("run", "--run-all", "-j", "2")
    assert repo.exp("push", "origin", "n-2").stdout == "Pushed 1 experiment(s) to origin.\n"
    assert git("for-each-ref", "--format=%(refname)", "refs/cairn/", cwd=bare).split() == [repo.ref("n-2")]


def test_push_with_nothing_to_push_and_unknown_names(exp_repo, tmp_path, assert_error):
    assert_error(
        exp_repo.exp("push", str(tmp_path), expect=None),
        UserInputError,
        "there are no experiments to push",
        "run one with `cairn exp run`",
    )
    exp_repo.exp("run", "-n", "only")
    assert_error(
        exp_repo.exp("push", str(tmp_path), "onyl", expect=None),
        UserInputError,
        "there is no experiment named 'onyl'",
        "did you mean 'only'?",
    )


def closed_port() -> int:
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("verb", ["push", "pull"])
def test_an_unreachable_git_remote_fails_fast_with_a_clear_message(exp_repo, tmp_path, assert_error, verb):
    exp_repo.exp("run", "-n", "e")
    missing = tmp_path / "no" / "such" / "repo.git"
    # a path that does not exist: git's own first `fatal:` line, not its closing boilerplate
    assert_error(
        exp_repo.exp(verb, str(missing), expect=None, timeout=30),
        RemoteUnreachableError,
        f"git {'push' if verb == 'push' else 'fetch'} {missing} failed: fatal: '{missing}' does not appear to be a "
        "git repository",
        f"check `git remote -v` and that you can reach it (`git ls-remote {missing}`)",
    )
    url = f"http://127.0.0.1:{closed_port()}/repo.git"
    proc = exp_repo.exp(verb, url, expect=None, timeout=30)  # the timeout: refused, not hanging
    assert_error(proc, RemoteUnreachableError, f"failed: fatal: unable to access '{url}/'", "git ls-remote")
    assert "127.0.0.1" in proc.stderr and ("connect" in proc.stderr.lower())
    # nothing was lost locally
    assert list(exp_repo.listed()) == ["e"]


def test_push_to_a_git_remote_name_that_is_not_configured(exp_repo, assert_error):
    exp_repo.exp("run", "-n", "e")
    proc = exp_repo.exp("push", "nowhere", expect=None, timeout=30)
    assert_error(proc, RemoteUnreachableError, "git push nowhere failed: fatal: 'nowhere' does not appear")
