"""The lineage index (.cairn/state/lineage.db): the same answers as reading git commit by
commit, kept in step with new commits, removed experiments and rewritten branches, and rebuilt
when damaged."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from cairn.lineage.downstream import downstream
from cairn.lineage.index import open_index
from cairn.lineage.upstream import upstream
from cairn.lineage.view import Shared
from cairn.repo import lineage as wiring
from cairn.repo.repo import Repo


@pytest.fixture
def copy(history, tmp_path):
    """A copy of the package history that a test may change."""
    root = tmp_path / "proj"
    shutil.copytree(history.root, root, symlinks=True)

    def run(*args: str, expect: int | None = 0):
        return history.cairn(*args, cwd=root, expect=expect)

    return root, run


def _consumers(run, spec: str) -> list[str]:
    return [c["commit"] for c in json.loads(run("lineage", "--downstream", spec, "--json").stdout)["consumers"]]


CASES = [
    ("up", "model", None),
    ("up", "data/features", None),
    ("up", "data/raw/a.txt", None),
    ("up", "model", "more-data"),
    ("down", "data/raw", None),
    ("down", "data/raw", "more-data"),
    ("down", "data/features/a.txt", None),
    ("down", "prepare.py", None),
    ("down", "data/raw/b.txt", "more-data"),
]


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "on-demand"])
@pytest.mark.parametrize(("way", "path", "rev"), CASES)
def test_the_index_answers_as_the_walk_does(history, tmp_path, way, path, rev, sync):
    """A fresh index (synced with every ref first, or filled by the walk itself) gives the
    answer reading commit by commit gives."""
    repo = Repo.find(history.root)
    with_index = Shared(repo.git, repo.store, open_index(tmp_path, repo.git.repo, sync=sync or way == "down"))
    without = Shared(repo.git, repo.store)
    ctx = wiring.context(repo, rev, None)
    run = upstream if way == "up" else downstream
    assert run(with_index, ctx, path) == run(without, ctx, path)
    assert len(with_index.index._links()) >= 4


def test_the_index_follows_new_commits_and_removed_experiments(history, copy):
    root, run = copy
    before = _consumers(run, "data/raw@HEAD")
    assert set(before) == {history.c1, history.c2, history.exp_commit}
    assert (root / ".cairn" / "state" / "lineage.db").is_file()
    (root / "NOTES.md").write_text("a commit that changes no data\n")
    history.git("-C", str(root), "add", "NOTES.md")
    history.git("-C", str(root), "commit", "-qm", "notes")
    new = history.git("-C", str(root), "rev-parse", "HEAD").strip()
    assert set(_consumers(run, "data/raw@HEAD")) == {new, history.c1, history.c2, history.exp_commit}
    run("exp", "remove", "fast")
    assert set(_consumers(run, "data/raw@HEAD")) == {new, history.c1, history.c2}


def test_a_rewritten_branch_drops_what_it_no_longer_reaches(history, copy):
    root, run = copy
    assert _consumers(run, f"data/raw@{history.c3}") == [history.c3]
    history.git("-C", str(root), "branch", "-q", "-D", "more-data")
    # c3 is on no branch, tag or experiment any more: nothing lists it, though the index knows it
    assert _consumers(run, f"data/raw@{history.c3}") == []
    up = json.loads(run("lineage", "model", "--rev", history.c3, "--json").stdout)
    assert up["commit"] == history.c3 and up["stages"][0]["ran"]["commit"] == history.c3


@pytest.mark.parametrize("damage", ["garbage", "other-version"])
def test_a_damaged_or_foreign_index_is_rebuilt(history, copy, damage):
    root, run = copy
    want = run("lineage", "model", "--json").stdout
    db = root / ".cairn" / "state" / "lineage.db"
    if damage == "garbage":
        for suffix in ("-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        db.write_bytes(b"this is not a database" * 100)
    else:
        with sqlite3.connect(db) as con:
            con.execute("UPDATE meta SET value = '999' WHERE key = 'version'")
    assert run("lineage", "model", "--json").stdout == want
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("1",)
        assert con.execute("SELECT count(*) FROM commits").fetchone()[0] >= 4


def test_a_lock_in_a_layout_cairn_does_not_write_is_still_read(history, copy):
    """A hand-edited lock in flow style: the index cannot split it, the YAML parser reads it."""
    import yaml

    root, run = copy
    lock = yaml.safe_load((root / "cairn.lock").read_text())
    (root / "cairn.lock").write_text(yaml.safe_dump(lock, default_flow_style=True))
    history.git("-C", str(root), "commit", "-qam", "the lock in flow style")
    flow = history.git("-C", str(root), "rev-parse", "HEAD").strip()
    assert set(_consumers(run, "data/raw@HEAD")) == {flow, history.c1, history.c2, history.exp_commit}


def test_a_damaged_lock_in_history_is_passed_over(history, copy):
    root, run = copy
    (root / "cairn.lock").write_text("stages: [this is: not a lock\n")
    history.git("-C", str(root), "commit", "-qam", "a damaged lock")
    assert set(_consumers(run, f"data/raw@{history.c2}")) == {history.c1, history.c2, history.exp_commit}
    with sqlite3.connect(root / ".cairn" / "state" / "lineage.db") as con:
        assert con.execute("SELECT count(*) FROM locks WHERE ok = 0").fetchone() == (1,)
    doc = json.loads(run("lineage", "model", "--rev", history.c2, "--json").stdout)
    assert doc["stages"][0]["ran"]["commit"] == history.c2
