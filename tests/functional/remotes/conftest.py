"""Fixtures for remote tests: a project with data to push, clones of it, and remotes (a local
folder, a bucket on the moto server; for tests/functional/remotes/test_backends.py also Azurite,
fake-gcs-server and an SFTP server) that tests can inspect and damage from outside cairn."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from emulators import azurite, fake_gcs, sftp_server  # noqa: F401 - fixtures
from remote_helpers import PACK_SIZE, RemoteFiles, dataset_files
from s3server import KEY_ID, SECRET, auth_moto, moto_endpoint, new_bucket  # noqa: F401 - fixtures


class Remote:
    """A remote for a project: its URL, how to configure a clone for it, and its files."""

    def __init__(self, kind: str, files: RemoteFiles, endpoint: str | None = None, secret: str | None = None) -> None:
        self.kind, self.files, self.endpoint, self.secret = kind, files, endpoint, secret
        self.url = files.url

    def configure(self, project, name: str = "store", default: bool = True) -> None:
        """`cairn remote add`, plus (for S3) endpoint, credentials (--local) and a small pack size."""
        project.cairn("remote", "add", *(["-d"] if default else []), name, self.url)
        project.cairn("remote", "modify", name, "pack_size", str(PACK_SIZE))
        if self.kind in ("s3", "gs"):
            project.cairn("remote", "modify", name, "endpoint_url", self.endpoint)
        self.credentials(project, name)

    def credentials(self, project, name: str = "store") -> None:
        """Credentials live in the git-ignored config.local.toml, so every clone needs them."""
        if self.kind == "s3":
            project.cairn("remote", "modify", name, "access_key_id", KEY_ID, "--local")
            project.cairn("remote", "modify", name, "secret_access_key", SECRET, "--local")
        elif self.kind == "az":
            project.cairn("remote", "modify", name, "connection_string", self.secret, "--local")
        elif self.kind == "gs":
            # gcsfs's anonymous access (the emulator checks nothing), instead of probing for
            # Google credentials first
            project.cairn("remote", "modify", name, "token", "anon", "--local")
        # ssh: the key and known_hosts are in ~/.ssh (ssh_remote), as a user's are


@pytest.fixture
def local_remote(tmp_path: Path) -> Remote:
    folder = tmp_path / "remote-store"
    return Remote("local", RemoteFiles("local", str(folder), folder=folder))


@pytest.fixture
def s3_remote(moto_endpoint: str) -> Remote:  # noqa: F811 - the fixture imported above
    bucket = new_bucket(moto_endpoint)
    url = f"s3://{bucket}/project"
    return Remote("s3", RemoteFiles("s3", url, endpoint=moto_endpoint), moto_endpoint)


@pytest.fixture
def az_remote(azurite) -> Remote:  # noqa: F811 - the fixture imported above
    container = azurite.new_container()
    files = RemoteFiles("az", f"az://{container}/project", azure=azurite.client().get_container_client(container))
    return Remote("az", files, secret=azurite.connection_string)


@pytest.fixture
def gs_remote(fake_gcs) -> Remote:  # noqa: F811 - the fixture imported above
    files = RemoteFiles("gs", f"gs://{fake_gcs.new_bucket()}/project", gcs=fake_gcs)
    return Remote("gs", files, fake_gcs.endpoint)


@pytest.fixture(scope="session")
def _ssh_home(sftp_server, home: Path) -> None:  # noqa: F811 - the fixture imported above
    sftp_server.install_into(home)  # the client key and the server's host key, in ~/.ssh


@pytest.fixture
def ssh_remote(sftp_server, _ssh_home) -> Remote:  # noqa: F811 - the fixture imported above
    path = sftp_server.new_folder()
    # the server's "/" is a local folder: the remote's files are seen there, as a folder remote's
    files = RemoteFiles("local", sftp_server.url(path), folder=sftp_server.root / path.lstrip("/"))
    return Remote("ssh", files)


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
