"""Fixtures of the datastats suite: generated tables with known drift (and none), a project with
several committed versions of a CSV and a Parquet file, an S3 (moto) remote and clones."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from s3server import KEY_ID, SECRET, moto_endpoint, new_bucket  # noqa: F401 - fixtures

ROWS = 3000


def table(seed: int, shift: float = 0.0, p_a: float = 0.5, rows: int = ROWS) -> pl.DataFrame:
    """x ~ N(shift, 1), k in {a, b, c} with P(a) = p_a, n a small count."""
    rnd = random.Random(seed)
    rest = (1 - p_a) / 2
    return pl.DataFrame(
        {
            "x": [rnd.gauss(shift, 1) for _ in range(rows)],
            "k": rnd.choices(["a", "b", "c"], weights=[p_a, rest, rest], k=rows),
            "n": [rnd.randrange(10) for _ in range(rows)],
        }
    )


def write_version(root: Path, df: pl.DataFrame) -> None:
    (root / "data").mkdir(exist_ok=True)
    df.write_csv(root / "data" / "t.csv")
    df.write_parquet(root / "data" / "t.parquet")


@pytest.fixture
def tables() -> Callable[..., pl.DataFrame]:
    return table


@pytest.fixture
def versions(repo):
    """data/t.csv and data/t.parquet tracked, three commits: v1, v2 (x shifted by 1, k skewed:
    drift), v3 (v1's distribution, other rows: no drift). Tags v1, v2, v3."""
    for tag, df in (("v1", table(1)), ("v2", table(2, shift=1.0, p_a=0.8)), ("v3", table(3))):
        write_version(repo.root, df)
        repo.cairn("add", "data/t.csv", "data/t.parquet")
        repo.commit(tag)
        repo.git("tag", tag)
    return repo


@pytest.fixture
def s3_url(moto_endpoint: str) -> str:  # noqa: F811 - the fixture imported above
    return f"s3://{new_bucket(moto_endpoint)}/project"


@pytest.fixture
def configure_s3(moto_endpoint: str) -> Callable:  # noqa: F811 - the fixture imported above
    def configure(project, url: str | None = None) -> None:
        if url is not None:
            project.cairn("remote", "add", "-d", "store", url)
            project.cairn("remote", "modify", "store", "endpoint_url", moto_endpoint)
        project.cairn("remote", "modify", "store", "access_key_id", KEY_ID, "--local")
        project.cairn("remote", "modify", "store", "secret_access_key", SECRET, "--local")

    return configure


@pytest.fixture
def clone(tmp_path: Path, git: Callable[..., str]) -> Callable:
    def make(project, name: str):
        dest = tmp_path / name
        git("clone", "-q", str(project.root), str(dest), cwd=tmp_path)
        git("config", "user.name", "Cairn Tester", cwd=dest)
        git("config", "user.email", "tester@example.com", cwd=dest)
        return type(project)(dest, project._run_cairn, project._git)

    return make


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Callable:
    def make(project, name: str):
        dest = tmp_path / name
        shutil.copytree(project.root, dest, symlinks=True)
        return type(project)(dest, project._run_cairn, project._git)

    return make
