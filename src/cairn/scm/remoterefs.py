"""The refs of a repository's git remotes, read without changing a local ref: `git ls-remote`
lists them, and `git fetch --no-write-fetch-head` brings the commits this clone lacks into its
object database only. Remote gc needs them: a teammate's branch this clone never fetched still
references data on the shared remote. The git CLI, so credential helpers and ssh config apply."""

from __future__ import annotations

from cairn.errors import RemoteUnreachableError
from cairn.scm.git import Git
from cairn.scm.gitcli import failure, run_git


def remote_names(git: Git) -> list[str]:
    return sorted(r.name for r in git.repo.remotes if r.name)


def _git(git: Git, remote: str, args: list[str], timeout: float) -> str:
    proc = run_git(git.root, args, timeout)
    if proc is None or proc.returncode != 0:
        reason = failure(proc) if proc is not None else f"no answer within {timeout:.0f} s"
        raise RemoteUnreachableError(
            f"cannot read the refs of git remote {remote!r} (git {args[0]}: {reason}); remote gc keeps the "
            "data of every branch there, so it must see them; nothing was removed",
            "check that you can reach it (`git ls-remote REMOTE`), or remove a git remote that is gone for good "
            "(`git remote remove NAME`)",
        )
    return proc.stdout


def list_refs(git: Git, remote: str, timeout: float = 120) -> dict[str, str]:
    """ref name -> object id of every ref the git remote `remote` has (peeled tags left out)."""
    out = {}
    for line in _git(git, remote, ["ls-remote", "--quiet", remote], timeout).splitlines():
        sha, _, ref = line.partition("\t")
        if ref and not ref.endswith("^{}"):
            out[ref] = sha
    return out


def fetch_commits(git: Git, remote: str, shas: list[str], timeout: float = 600) -> None:
    """Bring the objects of `shas` (tips the remote advertises) and their history into the object
    database; no ref, FETCH_HEAD included, changes."""
    missing = [s for s in shas if s not in git.repo]
    if missing:
        _git(git, remote, ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, *missing], timeout)
