"""Git through pygit2 (libgit2 in process): reading pointer files at many revisions costs no
subprocess per file. Imported only by commands that need git history."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pygit2

from cairn.errors import NotARepoError, RevisionError

EXP_REFS = "refs/cairn/exps/"
_BLOB = pygit2.enums.ObjectType.BLOB if hasattr(pygit2, "enums") else pygit2.GIT_OBJ_BLOB
_TREE = pygit2.enums.ObjectType.TREE if hasattr(pygit2, "enums") else pygit2.GIT_OBJ_TREE


class Git:
    def __init__(self, root: Path) -> None:
        try:
            self.repo = pygit2.Repository(str(root))
        except pygit2.GitError:
            raise NotARepoError(
                f"{root} is not a git repository",
                "run `git init` first, or `cairn init --no-scm` to use cairn without git",
            ) from None
        self.root = root

    # -- the index (what git tracks in the workspace) --------------------------------------
    def tracked_under(self, rel: str) -> list[str]:
        """Paths git tracks at `rel` or below it."""
        index = self.repo.index
        index.read()
        prefix = rel + "/"
        return [e.path for e in index if e.path == rel or e.path.startswith(prefix)]

    # -- revisions -------------------------------------------------------------------------
    def resolve(self, rev: str) -> pygit2.Commit:
        try:
            obj = self.repo.revparse_single(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            hint = "list revisions with `git log --oneline` or `git branch -a`"
            if self.repo.head_is_unborn:
                hint = "this repository has no commits yet; commit first (`git commit`)"
            raise RevisionError(f"unknown revision {rev!r}", hint) from None

    def read_file(self, rev: str, rel: str) -> bytes | None:
        tree = self.resolve(rev).tree
        try:
            obj = tree[rel]
        except KeyError:
            return None
        return obj.data if obj.type == _BLOB else None

    def files_with_suffix(self, rev: str, suffix: str) -> Iterator[tuple[str, bytes]]:
        """Every blob at `rev` whose name ends with `suffix`, as (path, content)."""
        yield from self._walk(self.resolve(rev).tree, "", suffix, None)

    def _walk(self, tree: pygit2.Tree, prefix: str, suffix: str | tuple[str, ...], seen: set | None):
        for obj in tree:
            if obj.type == _TREE:
                if seen is not None:
                    if obj.id in seen:
                        continue
                    seen.add(obj.id)
                yield from self._walk(obj, f"{prefix}{obj.name}/", suffix, seen)
            elif obj.type == _BLOB and obj.name.endswith(suffix):
                if seen is not None:
                    if obj.id in seen:
                        continue
                    seen.add(obj.id)
                yield f"{prefix}{obj.name}", obj.data

    def history_files_with_suffix(
        self, suffix: str | tuple[str, ...], extra: Iterable[str] = ()
    ) -> Iterator[tuple[str, str, bytes]]:
        """(commit, path, content) for every distinct matching blob in every commit reachable
        from a branch, a tag or an experiment ref, or from the commits `extra` (object ids; tags
        are peeled). Identical subtrees are read once."""
        tips = self.ref_tips()
        for sha in extra:
            try:
                tips.append(self.repo[sha].peel(pygit2.Commit).id)
            except (KeyError, ValueError, pygit2.GitError):
                continue  # a ref to a tree or blob holds no history
        if not tips:
            return
        walker = self.repo.walk(tips[0], pygit2.enums.SortMode.NONE)
        for tip in tips[1:]:
            walker.push(tip)
        yield from self._files_in(walker, suffix)

    def _files_in(self, commits: Iterable[pygit2.Commit], suffix: str | tuple[str, ...]):
        """Matching blobs of each commit; a tree (or subtree) seen before is not read again."""
        seen: set = set()
        for commit in commits:
            if commit.tree_id in seen:
                continue
            seen.add(commit.tree_id)
            for path, data in self._walk(commit.tree, "", suffix, seen):
                yield str(commit.id), path, data

    def files_at_revisions(
        self, suffix: str | tuple[str, ...], branches: bool = False, tags: bool = False, commits: bool = False
    ) -> Iterator[tuple[str, str, bytes]]:
        """(commit, path, content) of matching blobs at every branch tip and/or every tag, or in
        every commit (`commits`); identical subtrees are read once."""
        if commits:
            yield from self.history_files_with_suffix(suffix)
            return
        tips = []
        for name in self.repo.references:
            if (branches and name.startswith("refs/heads/")) or (tags and name.startswith("refs/tags/")):
                try:
                    tips.append(self.repo.references[name].peel(pygit2.Commit))
                except (pygit2.GitError, ValueError, KeyError):
                    continue
        yield from self._files_in(tips, suffix)

    def ref_tips(self) -> list[pygit2.Oid]:
        tips = []
        for name in self.repo.references:
            # remote-tracking branches count: a fresh clone must not drop data of branches it
            # only knows from origin
            if not name.startswith(("refs/heads/", "refs/tags/", "refs/remotes/", EXP_REFS)) and name != "HEAD":
                continue
            try:
                tips.append(self.repo.references[name].peel(pygit2.Commit).id)
            except (pygit2.GitError, ValueError, KeyError):
                continue
        if not self.repo.head_is_unborn:
            tips.append(self.repo.head.peel(pygit2.Commit).id)
        # stashed work references data too; gc must not drop it
        tips.extend(stash.commit_id for stash in self.repo.listall_stashes())
        return tips

    def hooks_dir(self) -> Path:
        """Where git runs hooks from: core.hooksPath when set, else `hooks/` in the common git dir."""
        try:
            # The effective value, as git uses it: the last one set (local over global), with
            # `~` expanded because git reads the key as a path.
            configured = os.path.expanduser(self.repo.config["core.hooksPath"])
        except KeyError:
            configured = ""
        if configured:
            p = Path(configured)
            return p if p.is_absolute() else self.root / p
        gitdir = Path(self.repo.path)
        try:
            # A linked worktree's git dir names the shared one, whose hooks git runs for every worktree.
            return (gitdir / (gitdir / "commondir").read_text().strip()).resolve() / "hooks"
        except FileNotFoundError:
            return gitdir / "hooks"
