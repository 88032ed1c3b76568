"""Fixtures for merge tests: a bare origin and two clones of it (alice, bob) sharing a folder
remote, with the merge driver set up in each clone (git config is per clone)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


class Team:
    def __init__(self, author, alice, bob, origin: Path, clone: Callable) -> None:
        self.author, self.alice, self.bob, self.origin = author, alice, bob, origin
        self.clone = clone


@pytest.fixture
def team(repo, tmp_path: Path, git) -> Team:
    """main holds data/images (3 files) pushed to a folder remote; alice and bob are clones of the
    bare origin with `cairn merge setup` run and the data pulled."""
    store = tmp_path / "store"
    repo.cairn("remote", "add", "-d", "store", str(store))
    repo.write({"data/images/a.png": b"image a", "data/images/b.png": b"image b", "data/images/c.png": b"image c"})
    repo.cairn("add", "data/images")
    repo.cairn("merge", "setup")
    repo.commit("images v1")
    repo.cairn("push")
    origin = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(repo.root), str(origin), cwd=tmp_path)

    def clone(name: str, setup: bool = True):
        dest = tmp_path / name
        git("clone", "-q", str(origin), str(dest), cwd=tmp_path)
        for key, value in (("user.name", name), ("user.email", f"{name}@example.com"), ("commit.gpgsign", "false")):
            git("config", key, value, cwd=dest)
        person = type(repo)(dest, repo._run_cairn, repo._git)
        if setup:
            person.cairn("merge", "setup")
        person.cairn("pull")
        return person

    return Team(repo, clone("alice"), clone("bob"), origin, clone)
