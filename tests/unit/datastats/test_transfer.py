"""Stats records and remotes through the Repo facade, with a folder remote: what a push sends,
and a fetch of many roots (one listing) or of a few (one request each)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cairn.datastats import transfer
from cairn.repo import Repo
from cairn.repo import datastats as ds

COUNT = transfer.FEW_ROOTS + 4  # past the point where a fetch lists the remote's records


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Repo, list[tuple[str, str]], Path]:
    (tmp_path / "p").mkdir()
    repo = Repo.init(tmp_path / "p", no_scm=True)
    for i in range(COUNT):
        (repo.root / f"t{i}.csv").write_text(f"a,b\n{i},x\n{i + 1},y\n")
    repo.add([str(repo.root / f"t{i}.csv") for i in range(COUNT)])
    for i in range(COUNT - 1):  # the last one never gets stats
        ds.stats(repo, str(repo.root / f"t{i}.csv"))
    repo.remotes.add("store", str(tmp_path / "remote"), default=True)
    roots = repo.transfer_roots()
    repo.push(roots)
    return repo, roots, tmp_path / "remote"


def test_push_sends_every_record_whose_data_is_there_once(pushed) -> None:
    repo, _, remote = pushed
    sent = sorted(p.name for p in (remote / "stats").iterdir())
    assert sent == sorted(f"{o}.json" for o in ds.store(repo).list()) and len(sent) == COUNT - 1
    r = repo.remotes.open()
    try:
        assert ds.push_stats(repo, r) == 0  # known there: no listing, nothing sent
        transfer.pushed_marker(r, repo.dot / "state").unlink()
        assert ds.push_stats(repo, r) == 0  # the listing says they are all there
    finally:
        r.close()


@pytest.mark.parametrize("many", [True, False])
def test_fetch_brings_the_records_of_its_roots(pushed, many: bool) -> None:
    repo, roots, _ = pushed
    shutil.rmtree(repo.store.root / "stats")
    picked = roots if many else roots[:3]
    r = repo.remotes.open()
    try:
        got = ds.fetch_stats(repo, r, picked)
    finally:
        r.close()
    expected = (COUNT - 1) if many else 3
    assert got == expected and len(ds.store(repo).list()) == expected
    assert ds.stats(repo, str(repo.root / "t0.csv"))["from"] == "cache"
