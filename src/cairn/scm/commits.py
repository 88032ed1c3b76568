"""Writing to git without touching the user's index, HEAD or branches: commits on hidden refs
built from a base tree plus changed files, tree export into a folder, ref listing, and network
transport of refs (the git CLI, so credential helpers and ssh config apply)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pygit2

from cairn.errors import RemoteUnreachableError, RevisionError, UserInputError
from cairn.scm.git import Git
from cairn.scm.gitcli import failure, run_git

_BLOB = pygit2.enums.ObjectType.BLOB
_TREE = pygit2.enums.ObjectType.TREE
_FILE_MODES = (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE)


def head_commit(git: Git) -> pygit2.Commit:
    if git.repo.head_is_unborn:
        raise RevisionError(
            "the repository has no commits yet; experiments need a baseline commit",
            "commit your code first: git add -A && git commit -m 'baseline'",
        )
    return git.repo.head.peel(pygit2.Commit)


def workspace_changes(git: Git) -> list[str]:
    """Paths git sees as changed or new in the workspace (ignored files excluded)."""
    flags = pygit2.enums.FileStatus
    changed = flags.WT_NEW | flags.WT_MODIFIED | flags.WT_DELETED | flags.WT_TYPECHANGE | flags.WT_RENAMED
    changed |= flags.INDEX_NEW | flags.INDEX_MODIFIED | flags.INDEX_DELETED | flags.INDEX_RENAMED
    return sorted(p for p, f in git.repo.status().items() if f & changed)


def commit_files(
    git: Git,
    base: pygit2.Commit,
    folder: Path,
    paths: Iterable[str],
    ref: str,
    message: str,
) -> str:
    """Commit `base`'s tree with `paths` taken from `folder` (a path absent there is removed),
    on `ref` with `base` as parent. The user's index and HEAD are not touched."""
    index = pygit2.Index()
    index.read_tree(base.tree)
    for rel in sorted(set(paths)):
        full = folder / rel
        if full.is_symlink():
            blob = git.repo.create_blob(os.readlink(full).encode())
            index.add(pygit2.IndexEntry(rel, blob, pygit2.enums.FileMode.LINK))
        elif full.is_file():
            mode = (
                pygit2.enums.FileMode.BLOB_EXECUTABLE if os.stat(full).st_mode & 0o100 else pygit2.enums.FileMode.BLOB
            )
            blob = git.repo.create_blob_fromdisk(str(full))
            index.add(pygit2.IndexEntry(rel, blob, mode))
        elif rel in index:
            index.remove(rel)
    tree = index.write_tree(git.repo)
    sig = _signature(git)
    oid = git.repo.create_commit(None, sig, sig, message, tree, [base.id])
    git.repo.references.create(ref, oid, force=True)
    return str(oid)


def _signature(git: Git) -> pygit2.Signature:
    try:
        return git.repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature("cairn", "cairn@localhost", int(time.time()), 0)


def export_tree(git: Git, commit: pygit2.Commit, dest: Path) -> None:
    """Write every file of `commit` into `dest` (a cheap snapshot instead of a worktree)."""
    _export(git.repo, commit.tree, dest)


def _export(repo: pygit2.Repository, tree: pygit2.Tree, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for entry in tree:
        target = dest / entry.name
        if entry.type == _TREE:
            _export(repo, repo[entry.id], target)
        elif entry.filemode == pygit2.enums.FileMode.LINK:
            os.symlink(repo[entry.id].data.decode(), target)
        elif entry.filemode in _FILE_MODES:
            target.write_bytes(repo[entry.id].data)
            if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def tree_paths(commit: pygit2.Commit) -> set[str]:
    out: set[str] = set()
    stack = [(commit.tree, "")]
    while stack:
        tree, prefix = stack.pop()
        for entry in tree:
            if entry.type == _TREE:
                stack.append((entry, f"{prefix}{entry.name}/"))
            else:
                out.add(prefix + entry.name)
    return out


def refs_under(git: Git, prefix: str) -> Iterator[tuple[str, str]]:
    """(ref name, commit id) of every ref under `prefix`."""
    for name in git.repo.references:
        if name.startswith(prefix):
            try:
                yield name, str(git.repo.references[name].target)
            except (KeyError, pygit2.GitError):
                continue


def delete_ref(git: Git, name: str) -> None:
    git.repo.references.delete(name)


def create_branch(git: Git, name: str, commit_id: str, force: bool = False) -> None:
    if not force and name in git.repo.branches.local:
        raise UserInputError(f"branch {name!r} already exists", "choose another name, or delete the branch first")
    try:
        git.repo.branches.local.create(name, git.repo[commit_id].peel(pygit2.Commit), force=force)
    except (ValueError, pygit2.GitError) as e:  # InvalidSpecError is a ValueError: 'a..b', 'x.lock', ...
        raise UserInputError(
            f"{name!r} is not a valid branch name ({e})", "see `git check-ref-format --help` for the rules"
        ) from None


def transport_refs(git: Git, verb: str, remote: str, refspecs: list[str], timeout: float = 120) -> None:
    """`git push|fetch REMOTE REFSPEC...` through the git CLI (credentials, ssh config)."""
    proc = run_git(git.root, [verb, remote, *refspecs], timeout)
    if proc is None:
        raise RemoteUnreachableError(
            f"git {verb} to {remote!r} did not finish within {timeout:.0f} s", "check the remote URL and your network"
        )
    if proc.returncode != 0:
        raise RemoteUnreachableError(
            f"git {verb} {remote} failed: {failure(proc)}",
            "check `git remote -v` and that you can reach it (`git ls-remote " + remote + "`)",
        )
