"""What git's index holds, through the git CLI, agrees with the pygit2 adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.scm.git import Git
from cairn.scm.staged import tracked_under


@pytest.fixture
def staged(git_repo: Path, git) -> Path:
    for rel in ("data.cairn", "sub/deep/model.cairn", "sub/x y.txt", "weird[1]/*.txt", "é/ü.bin", "sub2/a"):
        p = git_repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    git("add", "-A")
    (git_repo / "sub" / "untracked.txt").write_text("u")
    return git_repo


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("sub", ["sub/deep/model.cairn", "sub/x y.txt"]),
        ("data.cairn", ["data.cairn"]),
        ("su", []),  # a prefix of a name is not a folder
        ("sub/untracked.txt", []),
        ("nothing", []),
        ("weird[1]", ["weird[1]/*.txt"]),  # glob characters are taken literally
        ("weird[1]/*.txt", ["weird[1]/*.txt"]),
        ("é", ["é/ü.bin"]),
    ],
)
def test_tracked_under(staged: Path, rel: str, expected: list[str]) -> None:
    assert sorted(tracked_under(staged, rel)) == expected
    assert sorted(tracked_under(staged, rel)) == sorted(Git(staged).tracked_under(rel))


def test_without_the_git_cli_pygit2_answers(staged: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert tracked_under(staged, "sub") == ["sub/deep/model.cairn", "sub/x y.txt"]
