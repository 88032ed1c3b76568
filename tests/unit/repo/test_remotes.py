"""How many transfers a remote runs at once: -j, then the remote's `jobs`, then the storage's
default (a local folder is CPU-bound: one per core; network storage waits on latency: 8)."""

from __future__ import annotations

import os

import pytest

from cairn.repo import Repo


@pytest.fixture
def repo(tmp_path) -> Repo:
    (tmp_path / "p").mkdir()
    r = Repo.init(tmp_path / "p", no_scm=True)
    r.remotes.add("folder", str(tmp_path / "remote"))
    r.remotes.add("bucket", "s3://bucket/project")  # nothing is contacted until a transfer
    return r


def _jobs(repo: Repo, name: str, jobs: int | None = None) -> int:
    remote = repo.remotes.open(name, jobs)
    try:
        return remote.jobs
    finally:
        remote.close()


def test_default_jobs_depend_on_the_storage(repo):
    pytest.importorskip("s3fs")
    assert _jobs(repo, "folder") == max(2, len(os.sched_getaffinity(0)))
    assert _jobs(repo, "bucket") == 8


def test_remote_setting_and_command_line_override_the_default(repo):
    repo.remotes.modify("folder", "jobs", "5")
    assert _jobs(repo, "folder") == 5
    assert _jobs(repo, "folder", jobs=3) == 3
    assert _jobs(repo, "bucket", jobs=1) == 1
