"""`.cairnignore`: gitignore syntax, matched on repo-relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.index.ignore import IGNORE_FILE, Ignore
from cairn.objects.tree import TREE, Tree, walk_files
from cairn.repo import Repo


@pytest.mark.parametrize(
    "lines,path,is_dir,ignored",
    [
        (["*.log"], "a.log", False, True),
        (["*.log"], "deep/er/a.log", False, True),
        (["*.log"], "a.logx", False, False),
        (["*.log", "!keep.log"], "keep.log", False, False),
        (["*.log", "!keep.log"], "sub/keep.log", False, False),
        (["*.log", "!keep.log"], "other.log", False, True),
        (["!keep.log", "*.log"], "keep.log", False, True),  # the last matching rule wins
        (["tmp/"], "tmp", True, True),
        (["tmp/"], "tmp", False, False),  # a directory pattern does not match a file
        (["tmp/"], "data/tmp", True, True),
        (["/build"], "build", True, True),
        (["/build"], "src/build", True, False),  # anchored at the root
        (["data/*.bin"], "data/x.bin", False, True),
        (["data/*.bin"], "data/sub/x.bin", False, False),  # * does not cross folders
        (["data/**/x.bin"], "data/a/b/x.bin", False, True),
        (["**/cache"], "a/b/cache", True, True),
        (["\\!important"], "!important", False, True),
        (["f?le"], "file", False, True),
        (["[ab].txt"], "b.txt", False, True),
        (["[ab].txt"], "c.txt", False, False),
    ],
)
def test_match(lines: list[str], path: str, is_dir: bool, ignored: bool) -> None:
    assert Ignore(lines).match(path, is_dir) is ignored


def test_load_without_file(tmp_path: Path) -> None:
    assert Ignore.load(tmp_path) is None


def test_load_with_only_comments_and_blank_lines(tmp_path: Path) -> None:
    (tmp_path / IGNORE_FILE).write_text("# nothing here\n\n   \n  # indented comment\n")
    assert Ignore.load(tmp_path) is None


def test_load_reads_patterns_and_skips_comments(tmp_path: Path) -> None:
    (tmp_path / IGNORE_FILE).write_text("# logs\n*.log\n\n!keep.log\n")
    ign = Ignore.load(tmp_path)
    assert ign is not None
    assert ign.match("x.log", False)
    assert not ign.match("keep.log", False)
    assert not ign.match("# logs", False)


def _tracked_files(repo: Repo, oid: str) -> set[str]:
    def load(o: str) -> Tree:
        return Tree.from_bytes(repo.store.read(o), o)

    return {path for path, _ in walk_files(oid, load)}


def test_add_leaves_out_ignored_files_as_git_would(repo: Repo, make_files) -> None:
    root = repo.root
    make_files(
        root,
        {
            "data/a.csv": "a",
            "data/debug.log": "noise",
            "data/keep.log": "kept by negation",
            "data/scratch/x.csv": "scratch dir",
            "data/sub/scratch": "a file named like the dir pattern",
            "data/cache/keep": "git cannot re-include a file below an ignored folder",
            "data/sub/b.csv": "b",
        },
    )
    (root / IGNORE_FILE).write_text("*.log\n!keep.log\nscratch/\ncache/\n!cache/keep\n")
    repo = Repo(root)  # the ignore rules are read when the repo is opened
    try:
        [result] = repo.add([str(root / "data")])
        assert result.kind == TREE
        assert _tracked_files(repo, result.oid) == {"a.csv", "keep.log", "sub/scratch", "sub/b.csv"}
        assert result.files == 4
    finally:
        repo.close()
