"""The roots of a repository: the object versions gc, fsck and remote gc must keep, what a push
moves, and what a push records on the remote about itself.

Local gc keeps what this clone can see (the workspace, every commit of its branches, tags,
remote-tracking branches, stashes and experiment refs). A shared remote serves a team, so remote
gc also keeps what every ref of the repository's git remotes references (read with
`git ls-remote`, without changing a local ref) and what the root records of every push hold
(remotes/records.py)."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from cairn.errors import CairnError
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE

if TYPE_CHECKING:
    from cairn.remotes.records import PushInfo
    from cairn.repo.repo import Repo

Root = tuple[str, str]  # (kind, oid)
# files in git that reference cache objects: pointers and pipeline locks
ROOT_FILES = (ptr.SUFFIX, "cairn.lock")


def roots_in(path: str, data: bytes, commit: str) -> list[Root]:
    """(kind, oid) referenced by a pointer or lock file found in git history; a broken file
    references nothing usable."""
    from cairn.pipelines import lock as lock_mod

    where = f"{path} at {commit[:10]}"
    try:
        if path.endswith(ptr.SUFFIX):
            p = ptr.parse(data, where)
            return [(p.kind, p.oid)]
        if path.rpartition("/")[2] == lock_mod.LOCK_FILE:
            return [r for e in lock_mod.parse(data.decode(), where).values() for r in e.roots()]
    except (CairnError, UnicodeDecodeError):
        pass
    return []


def commit_roots(git, commit: str) -> list[Root]:
    """(kind, oid) one commit references: its cairn.lock's outputs and environment records, and
    its pointers (what must travel with an experiment or a queued baseline)."""
    import pygit2

    from cairn.pipelines import lock as lock_mod

    c = git.repo[commit].peel(pygit2.Commit)
    roots: list[Root] = []
    try:
        blob = c.tree[lock_mod.LOCK_FILE]
    except KeyError:
        blob = None
    if blob is not None:
        for entry in lock_mod.parse(blob.data.decode(), lock_mod.LOCK_FILE).values():
            roots += entry.roots()
    for path, data in git._walk(c.tree, "", ptr.SUFFIX, None):
        p = ptr.parse(data, path)
        roots.append((p.kind, p.oid))
    return roots


def workspace_roots(repo: Repo, targets: Iterable[str] | None = None) -> list[Root]:
    """Pointers (or those of `targets`) and the outputs cairn.lock records (or those among
    `targets`), with the environment records of the stages they come from."""
    from cairn.pipelines import lock as lock_mod

    targets = list(targets or [])
    entries = list(lock_mod.read(repo.root).values())
    outs = [o for e in entries for o in e.outs]
    envs = [(FILE, e.env) for e in entries if e.env]  # the environment records of the runs
    if targets:
        wanted = {repo.ws.rel(t) for t in targets}
        picked = [o for o in outs if o.path in wanted]
        rest = [t for t in targets if repo.ws.rel(t) not in {o.path for o in picked}]
        pointers = repo.pointers(rest) if rest else []
        outs = picked
        envs = [(FILE, e.env) for e in entries if e.env and any(o.path in wanted for o in e.outs)]
    else:
        pointers = repo.pointers()
    return [(p.kind, p.oid) for p in map(repo.ws.load_pointer, pointers)] + [(o.kind, o.oid) for o in outs] + envs


class Origins:
    """Where each root came from ("data.cairn at 1a2b3c4d5e"), to name what references a
    folder version nobody has."""

    def __init__(self) -> None:
        self._of: dict[str, list[str]] = {}

    def add(self, roots: Iterable[Root], origin: str) -> list[Root]:
        roots = list(roots)
        for _, oid in roots:
            self._of.setdefault(oid, []).append(origin)
        return roots

    def __call__(self, oids: list[str]) -> list[str]:
        return sorted({origin for o in oids for origin in self._of.get(o, ())})


def local_roots(repo: Repo, extra_commits: Iterable[str] = (), origins: Origins | None = None) -> list[Root]:
    """Every version this clone must keep: the workspace's pointers and pipeline outputs, and
    those in every commit of its history (branches, tags, remote-tracking branches, stashes,
    experiments, and the commits `extra_commits`), plus experiment logs."""
    origins = origins or Origins()
    roots = origins.add(workspace_roots(repo), "the workspace")
    from cairn.repo.mergestate import merge_roots

    roots.extend(origins.add(merge_roots(repo), "an unfinished merge"))
    if repo.git is not None:
        for commit, path, data in repo.git.history_files_with_suffix(ROOT_FILES, extra_commits):
            roots.extend(origins.add(roots_in(path, data, commit), f"{path} at {commit[:10]}"))
        roots.extend(_experiment_logs(repo))
    return roots


def _experiment_logs(repo: Repo) -> list[Root]:
    """Experiment logs live in the cache, referenced from their commits' metadata."""
    import pygit2

    from cairn.experiments.record import EXP_REFS, parse_message
    from cairn.scm.commits import refs_under

    out = []
    for ref, sha in refs_under(repo.git, EXP_REFS):
        info = parse_message(repo.git.repo[sha].peel(pygit2.Commit).message, sha, ref)
        if info is not None and info.log:
            out.append(("file", info.log))
    return out


def shared_roots(repo: Repo) -> tuple[list[Root], Callable[[list[str]], list[str]]]:
    """What remote gc keeps besides the root records: `local_roots` plus the history of every
    ref of every git remote (its commits fetched into the object database when this clone
    lacks them; no local ref changes). Also returns the function naming where roots came from."""
    origins = Origins()
    tips: list[str] = []
    if repo.git is not None:
        from cairn.scm import remoterefs

        for name in remoterefs.remote_names(repo.git):
            shas = sorted(set(remoterefs.list_refs(repo.git, name).values()))
            remoterefs.fetch_commits(repo.git, name, shas)
            tips.extend(shas)
    return local_roots(repo, tips, origins), origins


def transfer_roots(
    repo: Repo,
    targets: Iterable[str] | None = None,
    all_branches: bool = False,
    all_tags: bool = False,
    all_commits: bool = False,
) -> list[Root]:
    """What push/fetch move: the workspace pointers and pipeline outputs (or `targets`), plus
    those at branch tips, tags or in all commits when asked."""
    roots = workspace_roots(repo, targets)
    if all_branches or all_tags or all_commits:
        git = repo._need_git("push/fetch --all-*")
        for commit, path, data in git.files_at_revisions(ROOT_FILES, all_branches, all_tags, all_commits):
            roots.extend(roots_in(path, data, commit))
    return roots


def push_info(repo: Repo, all_branches: bool = False, all_tags: bool = False, all_commits: bool = False) -> PushInfo:
    """Who pushes, and for which refs and commits: the checked-out branch and HEAD, or every
    branch / tag / ref the push covers."""
    from cairn.remotes.records import PushInfo

    info = PushInfo(who=who(repo))
    git = repo.git
    if git is None:
        return info
    import pygit2

    r = git.repo
    if not r.head_is_unborn:
        info.commits.append(str(r.head.target))
        if not r.head_is_detached:
            info.refs.append(r.head.name)
    prefixes: tuple[str, ...] = ()
    if all_branches or all_commits:
        prefixes += ("refs/heads/",)
    if all_tags or all_commits:
        prefixes += ("refs/tags/",)
    if not prefixes:  # a plain push is for the checked-out branch alone: no need to list every ref
        return info
    for name in r.references:
        if name.startswith(prefixes):
            try:
                info.commits.append(str(r.references[name].peel(pygit2.Commit).id))
            except (pygit2.GitError, ValueError, KeyError):
                continue
            info.refs.append(name)
    return info


def who(repo: Repo) -> str:
    """Who acts, as root records and remote locks name them: git's user, else user@host."""
    if repo.git is not None:
        import pygit2

        try:
            sig = repo.git.repo.default_signature
            return f"{sig.name} <{sig.email}>"
        except (KeyError, pygit2.GitError):  # no user.name set
            pass
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
