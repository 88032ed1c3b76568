"""Annotated git tags: read (name, target commit, tagger, time, message) with one `git
for-each-ref` (a short process instead of importing pygit2, which alone costs more than a
registry read), written through pygit2, and another repository's tags fetched into a scratch
repository (the git CLI, so credential helpers and ssh config apply). The model registry keeps
its state in them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cairn.errors import MissingDependencyError, NotARepoError, RegistryError, RemoteUnreachableError
from cairn.scm.gitcli import failure, run_git

if TYPE_CHECKING:
    from cairn.scm.git import Git

TAGS = "refs/tags/"
# one record per tag, fields NUL-separated (a tag message may hold newlines, never a NUL)
_FIELDS = ("refname", "objecttype", "*objecttype", "*objectname", "taggername", "taggeremail", "taggerdate:unix")
_FORMAT = "".join(f"%({f})%00" for f in _FIELDS) + "%(contents)%00"
_N = len(_FIELDS) + 1


class HasRoot(Protocol):
    root: Path


@dataclass(frozen=True)
class TagRecord:
    name: str
    commit: str
    tagger: str
    email: str
    time: int
    message: str


def annotated_tags(git: HasRoot, wanted: Callable[[str], bool] = lambda name: True) -> list[TagRecord]:
    """Every annotated tag of the repository at `git.root` whose name `wanted` accepts
    (lightweight tags carry no who or why, and are skipped; so are tags of trees and blobs)."""
    proc = _git(git.root, ["for-each-ref", f"--format={_FORMAT}", TAGS])
    fields = proc.stdout.split("\0")
    if (len(fields) - 1) % _N:
        raise RegistryError(f"cannot read the tags of {git.root}: git for-each-ref's output is garbled", "git fsck")
    out, nested = [], []
    for i in range(0, len(fields) - 1, _N):
        ref, kind, target_kind, target, who, email, when, message = fields[i : i + _N]
        name = ref.lstrip("\n")[len(TAGS) :]
        if kind != "tag" or not wanted(name):
            continue
        record = TagRecord(name, target, who, email.strip("<>"), int(when or 0), message.strip())
        if target_kind == "commit":
            out.append(record)
        elif target_kind == "tag":
            nested.append(record)  # a tag of a tag: peeled below
    return out + _peeled(git.root, nested)


def _peeled(root: Path, records: list[TagRecord]) -> list[TagRecord]:
    """Tags of tags, each pointed at the commit its chain ends in (dropped when it ends in a
    tree, a blob, or an object this repository lacks)."""
    if not records:
        return []
    query = "".join(f"{TAGS}{r.name}^{{commit}}\n" for r in records)
    proc = _git(root, ["cat-file", "--batch-check=%(objectname) %(objecttype)"], query)
    out = []
    for r, line in zip(records, proc.stdout.splitlines(), strict=False):
        oid, _, kind = line.partition(" ")
        if kind == "commit":
            out.append(TagRecord(r.name, oid, r.tagger, r.email, r.time, r.message))
    return out


def _git(root: Path, args: list[str], stdin: str | None = None):
    import subprocess

    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, input=stdin, capture_output=True, encoding="utf-8", errors="replace"
        )
    except FileNotFoundError:
        raise MissingDependencyError(
            "the model registry reads git tags with the git CLI, and `git` is not on PATH", "install git"
        ) from None
    if proc.returncode != 0:
        reason = failure(proc)
        if "not a git repository" in reason:
            raise NotARepoError(
                f"{root} is not a git repository", "run `git init` first; the registry lives in git tags"
            )
        raise RegistryError(f"cannot read the tags of {root}: {reason}", "check the repository: git fsck")
    return proc


def tag_target(git: Git, name: str) -> str | None:
    """The commit tag `name` points to, or None when there is no such tag."""
    import pygit2

    try:
        return str(git.repo.references[TAGS + name].peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def create_annotated(git: Git, name: str, commit: str, message: str) -> None:
    """Tag `commit` as `name`, the tagger being the user's git identity (as `git tag -a`)."""
    import pygit2

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


HEAD_REF = "refs/cairn/head"


def fetch_tags(url: str, into: Path, timeout: float = 120, head: bool = False) -> Git:
    """A bare scratch repository at `into` holding `url`'s tags and the commits they point to,
    without their history; with `head`, also the tip of its default branch as HEAD_REF (left
    out when the repository's HEAD names no commit)."""
    into.mkdir(parents=True, exist_ok=True)
    init = run_git(into, ["init", "-q", "--bare", "."], timeout)
    if init is None or init.returncode != 0:
        raise RemoteUnreachableError(f"could not create a scratch repository in {into}", "check free space")
    target = url if "://" in url or ":" in url.split("/", 1)[0] else _file_url(url)
    fetch = ["fetch", "-q", "--no-tags", "--depth=1", target, "+refs/tags/*:refs/tags/*"]
    proc = run_git(into, [*fetch, f"+HEAD:{HEAD_REF}"] if head else fetch, timeout)
    if head and proc is not None and proc.returncode != 0 and "remote ref" in failure(proc):
        proc = run_git(into, fetch, timeout)  # an unborn HEAD (an empty default branch)
    if proc is None:
        raise RemoteUnreachableError(
            f"git repository {url!r} did not answer within {timeout:.0f} s", "check the URL and your network"
        )
    if proc.returncode != 0:
        raise RemoteUnreachableError(
            f"cannot read git repository {url!r}: {failure(proc)}",
            f"check the URL and that you can reach it (`git ls-remote {url}`)",
        )
    from cairn.scm.git import Git

    return Git(into)


def _file_url(path: str) -> str:
    # a plain path makes git copy objects locally and ignore --depth; file:// honours it
    p = Path(path).expanduser()
    return p.resolve().as_uri() if p.exists() else path
