"""Environment records as roots: a run's record is kept and moved with the outputs it made,
also when push/fetch name only some outputs; a record compared with the current environment."""

from __future__ import annotations

import pytest

from cairn.pipelines.runner import ReproOptions
from cairn.repo.roots import roots_in, transfer_roots, workspace_roots


@pytest.fixture(autouse=True)
def _own_capture_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # not the user's ~/.cache


def _pipeline(repo):
    (repo.root / "cairn.yaml").write_text(
        "stages:\n"
        "  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
        "  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n    env: strict\n"
    )
    repo.repro(ReproOptions())
    from cairn.pipelines import lock

    return lock.read(repo.root)


def test_the_records_of_the_runs_are_roots(repo):
    entries = _pipeline(repo)
    env = entries["a"].env
    assert env and entries["b"].env == env  # one run, one environment, one object
    assert repo.store.exists(env)
    assert ("file", env) in workspace_roots(repo)
    # only some outputs named: the records of the stages that made them come along
    assert ("file", env) in transfer_roots(repo, [str(repo.root / "a.txt")])
    text = (repo.root / "cairn.lock").read_bytes()
    assert ("file", env) in roots_in("cairn.lock", text, "0" * 40)


def test_changes_against_the_current_environment(repo, monkeypatch):
    monkeypatch.setenv("CAIRN_TEST_SEED", "1")
    from cairn.repo.config import write

    write(repo.dot, "env.vars", ["CAIRN_TEST_SEED"])
    from cairn.repo import Repo

    repo = Repo(repo.root)
    entries = _pipeline(repo)
    assert repo.environment_changes() == {}
    monkeypatch.setenv("CAIRN_TEST_SEED", "2")
    fresh = Repo(repo.root)  # the current environment is captured once per Repo
    assert fresh.environment_changes() == {"a": ["$CAIRN_TEST_SEED 1 -> 2"], "b": ["$CAIRN_TEST_SEED 1 -> 2"]}
    assert fresh.pipeline_status() == {"b": ["environment changed: $CAIRN_TEST_SEED 1 -> 2 (env: strict)"]}
    assert fresh.environment.changes("f" * 64) is None  # not in the cache
    assert entries["a"].env
