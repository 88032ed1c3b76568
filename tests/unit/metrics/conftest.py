"""Fixtures of the metrics unit suite: a cairn repository with committed history."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.pipelines import lock as lock_mod
from cairn.pipelines.lock import PathState, StageLock
from cairn.repo import Repo


class Hist:
    """Write files, commit, and record cached outputs in cairn.lock, in a cairn repo."""

    def __init__(self, repo: Repo, commit: Callable[[str], str], git) -> None:
        self.repo, self.root, self._commit, self.git = repo, repo.root, commit, git

    def write(self, rel: str, content: str | bytes | dict) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = json.dumps(content)
        if isinstance(content, str):
            content = textwrap.dedent(content).lstrip("\n")
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str, tag: str | None = None) -> str:
        sha = self._commit(message)
        if tag:
            self.git("tag", tag)
        return sha

    def cache_out(self, outs: dict[str, bytes], stage: str = "train") -> dict[str, str]:
        """Put `outs` in the cache and record them as the stage's outputs in cairn.lock; the
        files themselves stay out of git (.gitignore). Returns path -> oid."""
        oids = {}
        states = []
        for path, data in outs.items():
            oid = self.repo.store.add_bytes(data)
            oids[path] = oid
            states.append(PathState(path, "file", oid, len(data), 1))
        lock_mod.write(self.root, {stage: StageLock(["true"], outs=states)}, [stage])
        ignore = self.root / ".gitignore"
        lines = set(ignore.read_text().split()) if ignore.exists() else set()
        ignore.write_text("\n".join(sorted(lines | set(outs))) + "\n")
        return oids


@pytest.fixture
def hist(repo: Repo, commit, git) -> Hist:
    return Hist(repo, commit, git)


@pytest.fixture
def reopen(repo: Repo) -> Callable[[], Repo]:
    """A fresh Repo object on the same root (config re-read)."""
    opened: list[Repo] = []

    def make() -> Repo:
        r = Repo(Path(repo.root))
        opened.append(r)
        return r

    yield make
    for r in opened:
        r.close()
