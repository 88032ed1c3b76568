"""Fixtures of the sharing suite: a data registry repository whose data lives on an S3 bucket of
the moto server (its remote committed, its credentials only in its own local config, as a team's
would be), and an empty consumer project beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from s3server import KEY_ID, SECRET, moto_endpoint, new_bucket, s3_client  # noqa: F401 - fixtures

# credentials of the moto server, given to the consumer through the environment
S3_ENV = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}


def images(version: int) -> dict[str, bytes]:
    files = {f"img{i:02d}.png": f"image {i} v1 ".encode() * (i + 1) for i in range(12)}
    files["sub/deep.txt"] = b"deep v1"
    if version >= 2:
        files["img00.png"] = b"image 0 v2"
        files["sub/new.txt"] = b"new in v2"
    return files


class Registry:
    def __init__(self, project, remote_url: str, endpoint: str, bucket: str) -> None:
        self.project, self.root = project, project.root
        self.remote_url, self.endpoint, self.bucket = remote_url, endpoint, bucket

    def cairn(self, *args, **kw):
        return self.project.cairn(*args, **kw)

    def release(self, version: int) -> str:
        """Write version `version` of data/images, add, push, commit and tag it v`version`."""
        target = self.root / "data" / "images"
        if target.exists():
            self.cairn("unprotect", "data/images")
            shutil.rmtree(target)
        self.project.write(images(version), under="data/images")
        self.cairn("add", "data/images")
        self.cairn("push")
        sha = self.project.commit(f"images v{version}")
        self.project.git("tag", f"v{version}")
        return sha


@pytest.fixture(scope="module")
def _registry_template(tmp_path_factory, _templates, run_cairn, git, moto_endpoint: str):  # noqa: F811
    """Built once per module (a dozen commands) and copied per test: the registry's folder, its
    remote URL and bucket. Tests that push more share the bucket: objects are only added."""
    root = tmp_path_factory.mktemp("registry-template") / "registry"
    shutil.copytree(_templates[1], root, symlinks=True)
    bucket = new_bucket(moto_endpoint)
    url = f"s3://{bucket}/registry"
    for args in (
        ("remote", "add", "-d", "store", url),
        ("remote", "modify", "store", "endpoint_url", moto_endpoint),
        ("remote", "modify", "store", "access_key_id", KEY_ID, "--local"),
        ("remote", "modify", "store", "secret_access_key", SECRET, "--local"),
    ):
        run_cairn(*args, cwd=root)
    (root / "model.bin").write_bytes(b"weights " * 100)
    for rel, data in images(1).items():
        (root / "data" / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / "images" / rel).write_bytes(data)
    run_cairn("add", "model.bin", "data/images", cwd=root)
    run_cairn("push", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "images v1", cwd=root)
    git("tag", "v1", cwd=root)
    return root, url, bucket


@pytest.fixture
def registry(tmp_path: Path, repo, _registry_template, moto_endpoint: str) -> Registry:  # noqa: F811
    """A data registry: data/images (v1, tag v1) and model.bin, pushed to an S3 remote whose URL
    and endpoint are committed (credentials only in its config.local.toml)."""
    template, url, bucket = _registry_template
    root = tmp_path / "registry"
    shutil.copytree(template, root, symlinks=True)
    return Registry(type(repo)(root, repo._run_cairn, repo._git), url, moto_endpoint, bucket)


@pytest.fixture
def app(tmp_path: Path, _templates, repo):
    """An empty consumer project (git + cairn, committed)."""
    root = tmp_path / "app"
    shutil.copytree(_templates[1], root, symlinks=True)
    return type(repo)(root, repo._run_cairn, repo._git)
