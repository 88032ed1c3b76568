"""Annotated git tags: read (name, target commit, tagger, time, message) and written without
the git CLI, and another repository's tags fetched into a scratch repository (the git CLI, so
credential helpers and ssh config apply). The model registry keeps its state in them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pygit2

from cairn.errors import RegistryError, RemoteUnreachableError
from cairn.scm.git import Git
from cairn.scm.gitcli import failure, run_git

TAGS = "refs/tags/"


@dataclass(frozen=True)
class TagRecord:
    name: str
    commit: str
    tagger: str
    email: str
    time: int
    message: str


def annotated_tags(git: Git, wanted: Callable[[str], bool] = lambda name: True) -> list[TagRecord]:
    """Every annotated tag whose name `wanted` accepts (lightweight tags carry no who or why,
    and are skipped)."""
    repo = git.repo
    out = []
    for ref in repo.references:
        if not ref.startswith(TAGS) or not wanted(ref[len(TAGS) :]):
            continue
        try:
            obj = repo[repo.references[ref].target]
            if not isinstance(obj, pygit2.Tag):
                continue
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            continue  # a tag of a tree or blob, or an object a shallow fetch did not bring
        who = obj.tagger
        out.append(
            TagRecord(
                ref[len(TAGS) :],
                str(commit.id),
                who.name if who else "",
                who.email if who else "",
                who.time if who else 0,
                (obj.message or "").strip(),
            )
        )
    return out


def tag_target(git: Git, name: str) -> str | None:
    """The commit tag `name` points to, or None when there is no such tag."""
    try:
        return str(git.repo.references[TAGS + name].peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def create_annotated(git: Git, name: str, commit: str, message: str) -> None:
    """Tag `commit` as `name`, the tagger being the user's git identity (as `git tag -a`)."""
    repo = git.repo
    try:
        who = repo.default_signature
    except (KeyError, pygit2.GitError):
        raise RegistryError(
            "git does not know who you are, and every registry change records its author",
            'set it: git config user.name "Your Name" && git config user.email you@example.com',
        ) from None
    # git writes the message with a final newline; so do we, so tags read alike
    repo.create_tag(name, pygit2.Oid(hex=commit), pygit2.enums.ObjectType.COMMIT, who, message.rstrip("\n") + "\n")


def fetch_tags(url: str, into: Path, timeout: float = 120) -> Git:
    """A bare scratch repository at `into` holding `url`'s tags and the commits they point to,
    without their history."""
    into.mkdir(parents=True, exist_ok=True)
    init = run_git(into, ["init", "-q", "--bare", "."], timeout)
    if init is None or init.returncode != 0:
        raise RemoteUnreachableError(f"could not create a scratch repository in {into}", "check free space")
    target = url if "://" in url or ":" in url.split("/", 1)[0] else _file_url(url)
    proc = run_git(into, ["fetch", "-q", "--no-tags", "--depth=1", target, "+refs/tags/*:refs/tags/*"], timeout)
    if proc is None:
        raise RemoteUnreachableError(
            f"git repository {url!r} did not answer within {timeout:.0f} s", "check the URL and your network"
        )
    if proc.returncode != 0:
        raise RemoteUnreachableError(
            f"cannot read git repository {url!r}: {failure(proc)}",
            f"check the URL and that you can reach it (`git ls-remote {url}`)",
        )
    return Git(into)


def _file_url(path: str) -> str:
    # a plain path makes git copy objects locally and ignore --depth; file:// honours it
    p = Path(path).expanduser()
    return p.resolve().as_uri() if p.exists() else path
