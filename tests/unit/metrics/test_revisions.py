"""Choosing revisions: workspace, --rev, -A, -T, -n."""

from __future__ import annotations

import pytest

from cairn.errors import NotARepoError, RevisionError
from cairn.metrics.revisions import WORKSPACE, branch_history, select
from cairn.repo import Repo


@pytest.fixture
def refs(hist, git) -> dict[str, str]:
    shas = {}
    for i in range(1, 4):
        hist.write("f.txt", str(i))
        shas[f"c{i}"] = hist.commit(f"commit {i}", tag=f"v{i}")
    git("branch", "exp", shas["c1"])
    git("branch", "a-branch", shas["c2"])
    return shas


def names(revs) -> list[str]:
    return [r.name for r in revs]


def test_default_is_the_workspace(repo: Repo) -> None:
    revs = select(repo)
    assert names(revs) == [WORKSPACE] and revs[0].commit is None and revs[0].where == "in the workspace"


def test_named_revisions_in_order_without_duplicates(repo: Repo, refs) -> None:
    revs = select(repo, ["v2", "workspace", "main", "v2"])
    assert names(revs) == ["v2", WORKSPACE, "main"]
    assert revs[0].commit == refs["c2"] and revs[0].subject == "commit 2"
    assert revs[0].where == f"at v2, commit {refs['c2'][:7]}"


def test_all_refs_current_branch_first_then_branches_then_tags(repo: Repo, refs) -> None:
    assert names(select(repo, all_refs=True)) == [WORKSPACE, "main", "a-branch", "exp", "v1", "v2", "v3"]
    assert names(select(repo, all_tags=True)) == [WORKSPACE, "v1", "v2", "v3"]


def test_last_n_commits_newest_first(repo: Repo, refs) -> None:
    revs = select(repo, last=2)
    assert names(revs) == [WORKSPACE, refs["c3"][:7], refs["c2"][:7]]
    assert len(branch_history(repo, 50)) == 3


def test_unknown_revision(repo: Repo, refs) -> None:
    with pytest.raises(RevisionError) as e:
        select(repo, ["nope"])
    assert e.value.message == "unknown revision 'nope'"


def test_no_commits_yet(repo: Repo) -> None:
    with pytest.raises(RevisionError, match="no commits yet"):
        select(repo, last=3)


def test_without_git_only_the_workspace(tmp_path) -> None:
    r = Repo.init(tmp_path, no_scm=True)
    try:
        assert names(select(r)) == [WORKSPACE]
        with pytest.raises(NotARepoError) as e:
            select(r, ["HEAD"])
        assert "has no git (core.no_scm)" in e.value.message
    finally:
        r.close()
