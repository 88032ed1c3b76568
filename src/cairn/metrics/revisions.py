"""Which revisions a command looks at: the workspace, named revisions, every branch and tag
(-A), every tag (-T), or the last N commits of the current branch (-n N)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cairn.errors import NotARepoError, RevisionError
from cairn.metrics.formats import WORKSPACE_WHERE

WORKSPACE = "workspace"


@dataclass(frozen=True)
class Rev:
    """A revision as the user named it; `commit` is None for the workspace."""

    name: str
    commit: str | None = None
    time: int | None = None  # commit time (seconds since the epoch)
    subject: str | None = None

    @property
    def is_workspace(self) -> bool:
        return self.commit is None

    @property
    def short(self) -> str:
        return self.commit[:7] if self.commit else WORKSPACE

    @property
    def where(self) -> str:
        """For messages: "in the workspace" or "at HEAD~1, commit 1a2b3c4"."""
        if self.commit is None:
            return WORKSPACE_WHERE
        return f"at {self.name}" if self.name == self.short else f"at {self.name}, commit {self.short}"

    @property
    def date(self) -> str | None:
        if self.time is None:
            return None
        return _dt.datetime.fromtimestamp(self.time, _dt.UTC).strftime("%Y-%m-%d %H:%M")

    def to_dict(self) -> dict:
        return {"rev": self.name, "commit": self.commit}


def workspace() -> Rev:
    return Rev(WORKSPACE)


def need_git(repo, what: str):
    git = repo.git
    if git is None:
        raise NotARepoError(
            f"`cairn {what}` reads git revisions, and this repository has no git (core.no_scm)",
            "leave out revisions to read the workspace only, or run `git init`",
        )
    return git


def _rev(name: str, commit) -> Rev:
    return Rev(name, str(commit.id), commit.commit_time, commit.message.split("\n", 1)[0])


def resolve(repo, name: str, what: str = "metrics") -> Rev:
    """`workspace` or a git revision (branch, tag, sha, HEAD~2...); RevisionError when unknown."""
    if name == WORKSPACE:
        return workspace()
    return _rev(name, need_git(repo, what).resolve(name))


def branch_history(repo, n: int, what: str = "metrics") -> list[Rev]:
    """The last `n` commits of the current branch (first parents), newest first."""
    import pygit2

    git = need_git(repo, what)
    if git.repo.head_is_unborn:
        raise RevisionError("this repository has no commits yet", "commit first (`git commit`)")
    walker = git.repo.walk(git.repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    out = []
    for commit in walker:
        if len(out) >= n:
            break
        out.append(_rev(str(commit.id)[:7], commit))
    return out


def refs(repo, branches: bool, tags: bool, what: str = "metrics") -> list[Rev]:
    """Every branch tip (current branch first) and/or every tag, by name."""
    import pygit2

    git = need_git(repo, what)
    current = None if git.repo.head_is_unborn or git.repo.head_is_detached else git.repo.head.shorthand
    found: list[tuple[int, str, Rev]] = []
    for ref in git.repo.references:
        if branches and ref.startswith("refs/heads/"):
            name, group = ref[len("refs/heads/") :], 0 if ref[len("refs/heads/") :] == current else 1
        elif tags and ref.startswith("refs/tags/"):
            name, group = ref[len("refs/tags/") :], 2
        else:
            continue
        try:
            commit = git.repo.references[ref].peel(pygit2.Commit)
        except (pygit2.GitError, ValueError, KeyError):
            continue  # a tag of a tree or blob holds no metrics
        found.append((group, name, _rev(name, commit)))
    return [rev for _, _, rev in sorted(found, key=lambda t: (t[0], t[1]))]


def select(
    repo,
    revs: list[str] | None = None,
    all_refs: bool = False,
    all_tags: bool = False,
    last: int | None = None,
    what: str = "metrics",
) -> list[Rev]:
    """The revisions of `metrics show`: the named ones; or the workspace followed by branches and
    tags (-A), tags (-T) or the last N commits (-n); the workspace alone by default."""
    chosen: list[Rev] = [resolve(repo, r, what) for r in revs or []]
    if all_refs or all_tags or last:
        if not revs:
            chosen.insert(0, workspace())
        if all_refs or all_tags:
            chosen.extend(refs(repo, all_refs, True, what))
        if last:
            chosen.extend(branch_history(repo, last, what))
    if not chosen:
        chosen = [workspace()]
    seen: set[str] = set()
    unique = []
    for rev in chosen:
        if rev.name not in seen:
            seen.add(rev.name)
            unique.append(rev)
    return unique
