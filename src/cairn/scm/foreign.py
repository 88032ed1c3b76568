"""Another repository's files at one revision, read without a work tree and without its data.

A per-user cache holds one bare repository per source URL. Reading a revision fetches that one
commit (`--depth 1`) without blobs (`--filter=blob:none`), then the few blobs cairn reads
(pointers, cairn.lock, .cairn/config.toml) in one more request, as git's own lazy fetch does.
Measured against `git archive --remote` (which serves the same files in one request), it costs
one extra round trip, but archive is not offered over HTTPS by GitHub, GitLab or Bitbucket and
a partial fetch works everywhere git does. A server that does not filter (a plain local path)
sends the commit's blobs too: code only, the data is never in git.

The git CLI, so credential helpers, ssh config and URL rewrites apply as for the user's `git`.

A process holds the cached repository while it reads it (cairn.usercache.hold: the stamp that
records its last use), so `cairn cache prune` and the pruning a new clone triggers leave it be."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from blake3 import blake3

from cairn.errors import RemoteUnreachableError, RevisionError
from cairn.scm.gitcli import failure, run_git
from cairn.usercache import folder
from cairn.usercache.hold import Hold

_TREE = pygit2.enums.ObjectType.TREE if hasattr(pygit2, "enums") else pygit2.GIT_OBJ_TREE
_BLOB = pygit2.enums.ObjectType.BLOB if hasattr(pygit2, "enums") else pygit2.GIT_OBJ_BLOB
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_FETCHED = "refs/cairn/fetched"
_LAZY_FETCH = ["-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
_LAZY_FETCH += ["--recurse-submodules=no", "--filter=blob:none"]
TIMEOUT = 300.0
# git's words for "the server has no such revision" (as opposed to "no such server")
_NO_REV = ("couldn't find remote ref", "not our ref", "no such remote ref", "invalid refspec", "not a valid")


def cache_root() -> Path:
    """Where source repositories are kept: per user, so every project (and no project) shares them."""
    return folder("repos")


def normalize(url: str) -> str:
    """A local path made absolute (so the same folder is one source from anywhere); URLs as given."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):  # scp-like git@host:path
        return url
    return os.path.abspath(os.path.expanduser(url))


@dataclass
class ForeignCommit:
    """One commit of a source repository, its trees and the blobs cairn reads."""

    url: str
    rev: str | None  # as asked (None: the source's default branch)
    commit: str
    repo: pygit2.Repository
    bare: Path | None = None  # the cached repository, for fetching more blobs
    hold: Hold | None = field(default=None, repr=False)  # on the cached repository while this lives

    def read(self, path: str) -> bytes | None:
        """A file's bytes at this commit, or None when there is no such file (or it was not fetched)."""
        try:
            obj = self.repo[self.commit].peel(pygit2.Commit).tree[path]
        except KeyError:
            return None
        if obj.type != _BLOB or obj.id not in self.repo:
            return None
        return self.repo[obj.id].data

    def has_file(self, path: str) -> bool:
        """Whether git tracks a file at `path` in this commit (no blob is fetched)."""
        try:
            return self.repo[self.commit].peel(pygit2.Commit).tree[path].type == _BLOB
        except KeyError:
            return False

    def files(self) -> Iterator[tuple[str, bool]]:
        """(path, is_folder) of every file and folder git tracks at this commit."""
        yield from _walk(self.repo, self.repo[self.commit].peel(pygit2.Commit).tree, "")

    def export(self, path: str, dest: Path, timeout: float = TIMEOUT) -> int | None:
        """Write the file or folder git tracks at `path` to `dest` (which must not exist),
        fetching its blobs in one request; the number of files written, None when git tracks
        nothing there. Symbolic links and submodules are left out."""
        try:
            obj = self.repo[self.commit].peel(pygit2.Commit).tree[path] if path else None
        except KeyError:
            return None
        if obj is None or obj.type not in (_TREE, _BLOB):
            return None
        blobs: list[tuple[str, str, bool]] = []  # (relative path, blob id, executable)
        if obj.type == _BLOB:
            if obj.filemode not in (0o100644, 0o100755):
                return None
            blobs.append(("", str(obj.id), obj.filemode == 0o100755))
        else:
            _blobs_below(self.repo, self.repo[obj.id], "", blobs)
        missing = sorted({b for _, b, _ in blobs if b not in self.repo})
        if missing and self.bare is not None:
            with _locked(self.bare):
                _git(
                    self.bare,
                    [*_LAZY_FETCH, "--stdin", "origin"],
                    self.url,
                    self.rev,
                    timeout,
                    "\n".join(missing) + "\n",
                )
            self.repo = pygit2.Repository(str(self.bare))
        if obj.type == _TREE:
            dest.mkdir()
        for rel, blob, exe in blobs:
            target = dest / rel if rel else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.repo[blob].data)
            target.chmod(0o755 if exe else 0o644)
        return len(blobs)


def _blobs_below(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, out: list) -> None:
    for entry in tree:
        if entry.type == _TREE:
            _blobs_below(repo, repo[entry.id], f"{prefix}{entry.name}/", out)
        elif entry.type == _BLOB and entry.filemode in (0o100644, 0o100755):
            out.append((f"{prefix}{entry.name}", str(entry.id), entry.filemode == 0o100755))


def _walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, bool]]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.type == _TREE:
            yield (path, True)
            yield from _walk(repo, repo[entry.id], path + "/")
        elif entry.type == _BLOB:
            yield (path, False)


def _wanted(path: str) -> bool:
    return path.endswith(".cairn") or path in ("cairn.lock", ".cairn/config.toml")


def _blob_ids(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> Iterator[str]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.type == _TREE:
            yield from _blob_ids(repo, repo[entry.id], path + "/")
        elif entry.type == _BLOB and _wanted(path):
            yield str(entry.id)


def open_commit(url: str, rev: str | None = None, timeout: float = TIMEOUT) -> ForeignCommit:
    """Fetch revision `rev` (a branch, a tag or a full commit id; None: the default branch) of the
    repository at `url` into the per-user cache and return it. Raises RevisionError for a
    revision the source lacks, RemoteUnreachableError when the source cannot be read."""
    url = normalize(url)
    if rev is not None and re.fullmatch(r"[0-9a-fA-F]{4,39}", rev):
        raise RevisionError(
            f"{rev!r} looks like an abbreviated commit id; a source repository is asked for a branch, a tag "
            "or a full 40-character commit id",
            "give the full id (`git rev-parse REV` in a clone of the source)",
        )
    bare = cache_root() / f"{blake3(url.encode()).hexdigest()[:16]}.git"
    hold = Hold(bare)  # before it is made: a prune cannot remove it between making and reading
    try:
        created = _cache_repo(url, bare)
        commit, repo = _fetch(bare, url, rev, timeout)
    except BaseException:
        hold.close()
        raise
    foreign = ForeignCommit(url, rev, commit, repo, bare, hold)
    hold.tie(foreign)
    if created:  # a new entry: the moment to drop those unused for long (one listing)
        from cairn.usercache.prune import auto_prune

        auto_prune()
    return foreign


def _fetch(bare: Path, url: str, rev: str | None, timeout: float) -> tuple[str, pygit2.Repository]:
    with _locked(bare):
        spec = rev or "HEAD"
        args = ["fetch", "--quiet", "--depth", "1", "--filter=blob:none", "--no-tags", "origin", f"+{spec}:{_FETCHED}"]
        _git(bare, args, url, rev, timeout)
        repo = pygit2.Repository(str(bare))
        commit = str(repo.revparse_single(_FETCHED).peel(pygit2.Commit).id)
        missing = sorted({b for b in _blob_ids(repo, repo[commit].tree) if b not in repo})
        if missing:
            # as git's lazy fetch does: the objects asked for by id come despite the filter
            _git(
                bare,
                [*_LAZY_FETCH, "--stdin", "origin"],
                url,
                rev,
                timeout,
                stdin="\n".join(missing) + "\n",
            )
            repo = pygit2.Repository(str(bare))
    return commit, repo


def latest_commit(url: str, rev: str | None, timeout: float = 60.0) -> str:
    """The commit `rev` names at the source now (one `git ls-remote`, nothing fetched). A full
    commit id names itself."""
    url = normalize(url)
    if rev is not None and _FULL_SHA.fullmatch(rev):
        return rev
    proc = run_git(Path.cwd() if Path.cwd().exists() else Path("/"), ["ls-remote", "--quiet", url], timeout)
    if proc is None or proc.returncode != 0:
        reason = failure(proc) if proc is not None else f"no answer within {timeout:.0f} s"
        raise _unreachable(url, reason)
    refs: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            refs[ref[:-3]] = sha  # an annotated tag: the commit it points to wins
        else:
            refs.setdefault(ref, sha)
    names = ["HEAD"] if rev is None else [rev, f"refs/heads/{rev}", f"refs/tags/{rev}"]
    for name in names:
        if name in refs:
            return refs[name]
    raise _no_revision(url, rev)


def _git(bare: Path, args: list[str], url: str, rev: str | None, timeout: float, stdin: str | None = None) -> None:
    import subprocess

    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=bare,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise _unreachable(url, f"no answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        reason = failure(proc)
        if any(s in reason.lower() for s in _NO_REV):
            raise _no_revision(url, rev)
        raise _unreachable(url, reason)


def _unreachable(url: str, reason: str) -> RemoteUnreachableError:
    return RemoteUnreachableError(
        f"cannot read the source repository {url} ({reason})",
        "check the URL or path (`git ls-remote URL` must answer) and your access to it",
    )


def _no_revision(url: str, rev: str | None) -> RevisionError:
    return RevisionError(
        f"the source repository {url} has no revision {rev or 'HEAD'!r}",
        f"list its branches and tags with `git ls-remote {url}`",
    )


def _cache_repo(url: str, bare: Path) -> bool:
    """Make the cached repository of `url` unless it exists; True when this call made it."""
    root = bare.parent
    if (bare / "HEAD").exists():
        return False
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".new-{secrets.token_hex(6)}"
    try:
        for args in (["init", "--quiet", "--bare", str(tmp)], ["-C", str(tmp), "remote", "add", "origin", url]):
            proc = run_git(root, args, 60)
            if proc is None or proc.returncode != 0:
                raise _unreachable(url, failure(proc) if proc is not None else "git init did not finish")
        try:
            os.rename(tmp, bare)
        except OSError:
            return False  # another process made it meanwhile
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


class _locked:
    """One fetch at a time into a cached repository (git's shallow file has no merge of writers)."""

    def __init__(self, bare: Path) -> None:
        self.path = bare.with_name(bare.name + ".lock")
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except ImportError:  # no flock (Windows): git's own lock files still refuse a clash
            pass

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
