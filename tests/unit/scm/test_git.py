"""The git adapter (pygit2) against repositories built with the git CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.errors import NotARepoError, RevisionError
from cairn.scm.git import EXP_REFS, Git


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def history(git_repo: Path, git, commit) -> dict[str, str]:
    """main: c1 (v1) -> c2 (v2); tag v1 (annotated) at c1, tag light at c2; branch feature off c1."""
    _write(git_repo, "data.cairn", "v1\n")
    _write(git_repo, "sub/deep/model.cairn", "model v1\n")
    _write(git_repo, "README.md", "readme\n")
    c1 = commit("one")
    git("tag", "-a", "v1", "-m", "release 1")
    _write(git_repo, "data.cairn", "v2\n")
    c2 = commit("two")
    git("tag", "light")
    git("branch", "feature", c1)
    return {"c1": c1, "c2": c2}


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotARepoError) as e:
        Git(tmp_path)
    assert "is not a git repository" in e.value.message
    assert "git init" in (e.value.hint or "")


# -- resolve ------------------------------------------------------------------------------------
def test_resolve_branch_tag_and_sha(git_repo: Path, history: dict[str, str]) -> None:
    g = Git(git_repo)
    c1, c2 = history["c1"], history["c2"]
    assert str(g.resolve("main").id) == c2
    assert str(g.resolve("HEAD").id) == c2
    assert str(g.resolve("feature").id) == c1
    assert str(g.resolve("v1").id) == c1  # annotated tag peeled to its commit
    assert str(g.resolve("light").id) == c2
    assert str(g.resolve(c1[:7]).id) == c1
    assert str(g.resolve(c1).id) == c1
    assert str(g.resolve("HEAD~1").id) == c1
    assert str(g.resolve("main^").id) == c1


@pytest.mark.parametrize("rev", ["nope", "HEAD~5", "v9", "", "deadbeef"])
def test_resolve_unknown_revision(git_repo: Path, history: dict[str, str], rev: str) -> None:
    with pytest.raises(RevisionError) as e:
        Git(git_repo).resolve(rev)
    assert e.value.message == f"unknown revision {rev!r}"
    assert "git log --oneline" in (e.value.hint or "")
    assert e.value.code == "bad-revision"


def test_resolve_in_an_empty_repository_hints_to_commit(git_repo: Path) -> None:
    with pytest.raises(RevisionError) as e:
        Git(git_repo).resolve("HEAD")
    assert "no commits yet" in (e.value.hint or "")


# -- reading files at revisions ---------------------------------------------------------------------
def test_read_file_at_revision(git_repo: Path, history: dict[str, str]) -> None:
    g = Git(git_repo)
    assert g.read_file("v1", "data.cairn") == b"v1\n"
    assert g.read_file("main", "data.cairn") == b"v2\n"
    assert g.read_file("HEAD", "sub/deep/model.cairn") == b"model v1\n"
    assert g.read_file("HEAD", "missing.cairn") is None
    assert g.read_file("HEAD", "sub") is None  # a folder is not a file
    assert g.read_file("HEAD", "README.md/x") is None
    with pytest.raises(RevisionError):
        g.read_file("nope", "data.cairn")


def test_read_file_ignores_the_workspace(git_repo: Path, history: dict[str, str]) -> None:
    _write(git_repo, "data.cairn", "uncommitted\n")
    assert Git(git_repo).read_file("HEAD", "data.cairn") == b"v2\n"


def test_files_with_suffix(git_repo: Path, history: dict[str, str]) -> None:
    g = Git(git_repo)
    assert dict(g.files_with_suffix("HEAD", ".cairn")) == {
        "data.cairn": b"v2\n",
        "sub/deep/model.cairn": b"model v1\n",
    }
    assert dict(g.files_with_suffix("v1", ".cairn"))["data.cairn"] == b"v1\n"
    assert list(g.files_with_suffix("HEAD", ".nothing")) == []


def test_tracked_under(git_repo: Path, history: dict[str, str]) -> None:
    g = Git(git_repo)
    assert g.tracked_under("sub") == ["sub/deep/model.cairn"]
    assert g.tracked_under("data.cairn") == ["data.cairn"]
    assert g.tracked_under("su") == []  # a prefix of a name is not a folder
    assert g.tracked_under("nothing") == []


# -- history ------------------------------------------------------------------------------------------
def test_history_covers_branches_tags_exp_refs_and_detached_head(git_repo: Path, git, commit) -> None:
    def commit_on(start: str, text: str) -> str:
        git("checkout", "-q", "--detach", start)
        _write(git_repo, "p.cairn", text)
        return commit(text)

    _write(git_repo, "p.cairn", "on main\n")
    base = commit("base")
    git("checkout", "-q", "-b", "side")
    _write(git_repo, "p.cairn", "on side\n")
    commit("side")
    git("tag", "-a", "keep", "-m", "only a tag reaches this", commit_on(base, "only tagged\n"))
    git("update-ref", f"{EXP_REFS}abc/exp-1", commit_on(base, "experiment\n"))
    git("update-ref", "refs/other/thing", commit_on(base, "other ref\n"))  # not a ref gc keeps
    commit_on(base, "dangling\n")  # reachable from nothing once HEAD moves on
    commit_on(base, "detached head\n")  # HEAD stays here

    contents = sorted(data for _, _, data in Git(git_repo).history_files_with_suffix(".cairn"))
    assert contents == sorted([b"on main\n", b"on side\n", b"only tagged\n", b"experiment\n", b"detached head\n"])


def test_history_yields_each_distinct_pointer_once(git_repo: Path, git, commit) -> None:
    """Identical subtrees (and blobs) are read once however many commits and branches hold them."""
    for i in range(5):
        _write(git_repo, "shared/deep/big.cairn", "shared pointer\n")
        _write(git_repo, "changing.cairn", f"version {i}\n")
        commit(f"c{i}")
    git("branch", "copy")
    git("tag", "t")
    results = list(Git(git_repo).history_files_with_suffix(".cairn"))
    by_content: dict[bytes, int] = {}
    for _, _, data in results:
        by_content[data] = by_content.get(data, 0) + 1
    assert by_content == {b"shared pointer\n": 1, **{f"version {i}\n".encode(): 1 for i in range(5)}}
    commits = {c for c, _, _ in results}
    assert all(len(c) == 40 for c in commits)
    paths = {path for _, path, _ in results}
    assert paths == {"shared/deep/big.cairn", "changing.cairn"}


def test_history_of_an_empty_repository(git_repo: Path) -> None:
    assert list(Git(git_repo).history_files_with_suffix(".cairn")) == []


def test_history_tolerates_tags_on_non_commits(git_repo: Path, git, commit) -> None:
    _write(git_repo, "p.cairn", "x\n")
    commit("one")
    git("tag", "blob-tag", git("rev-parse", "HEAD:p.cairn"))
    git("tag", "tree-tag", git("rev-parse", "HEAD^{tree}"))
    assert [d for _, _, d in Git(git_repo).history_files_with_suffix(".cairn")] == [b"x\n"]


# -- hooks --------------------------------------------------------------------------------------------
def test_hooks_dir_default(git_repo: Path) -> None:
    assert Git(git_repo).hooks_dir() == git_repo / ".git" / "hooks"


def test_hooks_dir_absolute_hooks_path(git_repo: Path, git, tmp_path: Path) -> None:
    git("config", "core.hooksPath", str(tmp_path / "hooks"))
    assert Git(git_repo).hooks_dir() == tmp_path / "hooks"


def test_hooks_dir_relative_hooks_path_is_relative_to_the_work_tree(git_repo: Path, git) -> None:
    git("config", "core.hooksPath", ".githooks")
    assert Git(git_repo).hooks_dir() == git_repo / ".githooks"


def test_hooks_dir_uses_the_value_git_uses(git_repo: Path, git) -> None:
    git("config", "core.hooksPath", "first")
    git("config", "--add", "core.hooksPath", "second")
    expected = git("rev-parse", "--git-path", "hooks")  # git's own answer: the last value wins
    assert expected == "second"
    assert Git(git_repo).hooks_dir() == git_repo / "second"


def test_hooks_dir_expands_home(git_repo: Path, git, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    git("config", "core.hooksPath", "~/hooks")
    assert Git(git_repo).hooks_dir() == tmp_path / "home" / "hooks"


def test_hooks_dir_of_a_linked_worktree_is_the_shared_one(git_repo: Path, git, commit, tmp_path: Path) -> None:
    commit("one")
    git("worktree", "add", "-q", str(tmp_path / "wt"))
    expected = Path(git("rev-parse", "--path-format=absolute", "--git-path", "hooks"))
    assert Git(tmp_path / "wt").hooks_dir() == expected == git_repo / ".git" / "hooks"


def test_files_at_revisions_tips_tags_or_history(git_repo: Path, git, commit) -> None:
    _write(git_repo, "p.cairn", "old main\n")
    commit("old")
    git("tag", "t-old")
    _write(git_repo, "p.cairn", "main tip\n")
    commit("tip")
    git("checkout", "-q", "-b", "side")
    _write(git_repo, "p.cairn", "side tip\n")
    commit("side")
    git("checkout", "-q", "main")
    g = Git(git_repo)

    def contents(**kw: bool) -> list[bytes]:
        return sorted(d for _, _, d in g.files_at_revisions(".cairn", **kw))

    assert contents(branches=True) == [b"main tip\n", b"side tip\n"]
    assert contents(tags=True) == [b"old main\n"]
    assert contents(branches=True, tags=True) == [b"main tip\n", b"old main\n", b"side tip\n"]
    assert contents(commits=True) == [b"main tip\n", b"old main\n", b"side tip\n"]
    assert contents() == []
