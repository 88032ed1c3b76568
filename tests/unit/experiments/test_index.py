"""cairn.experiments.index: the derived SQLite index follows the refs and survives damage."""

from __future__ import annotations

import sqlite3

import pygit2
import pytest

from cairn.experiments.index import ExpIndex
from cairn.experiments.record import ExpInfo, ref_name
from cairn.scm.git import Git


@pytest.fixture
def exps(git_repo, commit):
    base = commit("baseline")
    git = Git(git_repo)
    repo = git.repo
    sig = pygit2.Signature("t", "t@example.com")
    head = repo[base].peel(pygit2.Commit)

    def record(name: str, acc: float) -> str:
        info = ExpInfo(name=name, baseline=base, status="success", created=acc, metrics={"m.json": {"acc": acc}})
        oid = repo.create_commit(None, sig, sig, info.message(), head.tree.id, [head.id])
        repo.references.create(ref_name(base, name), oid)
        return str(oid)

    record("a", 0.5)
    record("b", 0.7)
    return git, git_repo / ".cairn" / "state" / "exps.db", record


def names(idx: ExpIndex) -> list[str]:
    return sorted(i.name for i in idx.all())


def test_the_index_follows_the_refs(exps):
    git, path, record = exps
    idx = ExpIndex(path, git)
    assert names(idx) == ["a", "b"]
    record("c", 0.9)
    git.repo.references.delete(next(r for r in git.repo.references if r.endswith("/a")))
    assert names(idx) == ["b", "c"]
    assert sorted(r[0].rsplit("/", 1)[1] for r in idx.db.execute("SELECT ref FROM exps")) == ["b", "c"]
    idx.close()


def test_a_commit_that_is_not_an_experiment_is_skipped(exps):
    git, path, _ = exps
    head = git.repo.head.peel(pygit2.Commit)
    git.repo.references.create("refs/cairn/exps/x/plain", head.id)
    assert names(ExpIndex(path, git)) == ["a", "b"]


@pytest.mark.parametrize("damage", ["garbage", "bad json", "unknown fields", "other schema", "wal left over"])
def test_a_damaged_index_is_rebuilt(exps, damage):
    git, path, _ = exps
    ExpIndex(path, git).all()
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 512)
    elif damage == "wal left over":
        path.write_bytes(b"\x00garbage" * 512)
        path.with_name(path.name + "-wal").write_bytes(b"\x01stale" * 64)
    else:
        con = sqlite3.connect(path)
        if damage == "bad json":
            con.execute("UPDATE exps SET meta = '{'")
        elif damage == "unknown fields":
            con.execute('UPDATE exps SET meta = \'{"name": "a", "zzz": 1}\'')
        else:
            con.execute("DROP TABLE exps")
            con.execute("CREATE TABLE exps (x)")
        con.commit()
        con.close()
    idx = ExpIndex(path, git)
    assert names(idx) == ["a", "b"]
    assert names(idx) == ["a", "b"]  # and it works from the rebuilt file
    idx.close()
