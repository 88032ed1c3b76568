"""Fixtures for remote tests: a project with data to push, clones of it, and remotes (a local
folder, or a bucket on the moto server) that tests can inspect and damage from outside cairn."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from remote_helpers import PACK_SIZE, RemoteFiles, dataset_files
from s3server import KEY_ID, SECRET, auth_moto, moto_endpoint, new_bucket  # noqa: F401 - fixtures


class Remote:
    """A remote for a project: its URL, how to configure a clone for it, and its files."""

    def __init__(self, kind: str, files: RemoteFiles, endpoint: str | None = None) -> None:
        self.kind, self.files, self.endpoint = kind, files, endpoint
        self.url = files.url

    def configure(self, project, name: str = "store", default: bool = True) -> None:
        """`cairn remote add`, plus (for S3) endpoint, credentials (--local) and a small pack size."""
        project.cairn("remote", "add", *(["-d"] if default else []), name, self.url)
        project.cairn("remote", "modify", name, "pack_size", str(PACK_SIZE))
        if self.kind == "s3":
            project.cairn("remote", "modify", name, "endpoint_url", self.endpoint)
            self.credentials(project, name)

    def credentials(self, project, name: str = "store") -> None:
        """Credentials live in the git-ignored config.local.toml, so every clone needs them."""
        if self.kind == "s3":
            project.cairn("remote", "modify", name, "access_key_id", KEY_ID, "--local")
            project.cairn("remote", "modify", name, "secret_access_key", SECRET, "--local")


@pytest.fixture
def local_remote(tmp_path: Path) -> Remote:
    folder = tmp_path / "remote-store"
    return Remote("local", RemoteFiles("local", str(folder), folder=folder))


@pytest.fixture
def s3_remote(moto_endpoint: str) -> Remote:  # noqa: F811 - the fixture imported above
    bucket = new_bucket(moto_endpoint)
    url = f"s3://{bucket}/project"
    return Remote("s3", RemoteFiles("s3", url, endpoint=moto_endpoint), moto_endpoint)


@pytest.fixture(params=["local", "s3"])
def remote(request: pytest.FixtureRequest) -> Remote:
    """Each test runs against a local folder remote and an S3 (moto) remote; narrow it with
    `@pytest.mark.parametrize("remote", ["local"], indirect=True)`."""
    return request.getfixturevalue(f"{request.param}_remote")


@pytest.fixture
def source(repo, remote: Remote):
    """A project with data/ (tracked folder) and model.bin (tracked file) committed, and the
    remote configured and committed; nothing pushed yet. `source.files` holds the bytes."""
    files = {**dataset_files(), "model.bin": b"weights v1" * 100}
    repo.write(files)
    repo.cairn("add", "data", "model.bin")
    remote.configure(repo)
    repo.commit("data v1")
    repo.files = files
    return repo


@pytest.fixture
def clone(tmp_path: Path, git: Callable[..., str]) -> Callable:
    """clone(project, name, remote=None) -> a git clone of project as a new Project; given the
    Remote, its credentials are set up in the clone (they are not in git)."""

    def make(project, name: str, remote: Remote | None = None):
        dest = tmp_path / name
        git("clone", "-q", str(project.root), str(dest), cwd=tmp_path)
        git("config", "user.name", "Cairn Tester", cwd=dest)
        git("config", "user.email", "tester@example.com", cwd=dest)
        other = type(project)(dest, project._run_cairn, project._git)
        if remote is not None:
            remote.credentials(other)
        return other

    return make


@pytest.fixture
def copy_project(tmp_path: Path) -> Callable:
    """copy_project(project, name) -> a byte-for-byte copy (cache and all), as a new Project."""

    def make(project, name: str):
        dest = tmp_path / name
        shutil.copytree(project.root, dest, symlinks=True)
        return type(project)(dest, project._run_cairn, project._git)

    return make
