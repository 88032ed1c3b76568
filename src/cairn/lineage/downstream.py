"""Downstream: every commit on a branch or tag, and every experiment, whose cairn.lock shows a
stage that consumed one exact version of a path (by object id; a file inside a tracked folder
is matched through the trees), the stages fed by what those produced, and their outputs.

Each distinct lock is examined once (commits that share a lock share its answer), so the cost
grows with the number of lock versions, not of commits."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from blake3 import blake3

from cairn.lineage.history import commit_info
from cairn.lineage.upstream import Context, in_git, not_tracked
from cairn.lineage.view import GIT, TREE, Shared
from cairn.pipelines.lock import StageLock

DOWNSTREAM_VERSION = 1
_REFS = ("refs/heads/", "refs/tags/", "refs/cairn/exps/")


class _Gap(LookupError):
    pass


def downstream(shared: Shared, ctx: Context, path: str) -> dict[str, Any]:
    view = shared.view(ctx.commit)
    view.checked_lock()
    where = view.locate(path)
    at = f"at {ctx.rev}" if ctx.experiment is None else f"in experiment {ctx.experiment['name']}"
    if where is None:
        raise not_tracked(path, at)
    oid, kind = where.oid, where.kind
    if where.tracked == GIT:
        if kind == TREE:
            raise in_git(path)
        oid = blake3(view.git_obj(path).data).hexdigest()  # what a lock records for a git file
    if oid is None:
        raise _missing(path, where.gap)
    finder = _Finder(shared, path, oid, kind)
    names = _ref_names(shared)
    if shared.index is not None:
        consumers = _indexed(shared, finder, names)
    else:
        consumers = []
        for commit in _commits(shared):
            sha = str(commit.id)
            uses = finder.uses(shared.view(sha))
            if uses:
                consumers.append(_consumer(commit_info(commit), sha, names, _experiment(commit), uses))
    return {
        "version": DOWNSTREAM_VERSION,
        "target": path,
        "oid": oid,
        "kind": kind,
        "rev": ctx.rev,
        "commit": ctx.commit,
        "consumers": consumers,
        "gaps": finder.gaps,
    }


def _consumer(info: dict[str, Any], sha: str, names: dict, experiment: str | None, uses: list) -> dict[str, Any]:
    info["refs"] = names.get(sha, [])
    info["experiment"] = experiment
    info["stages"] = uses
    return info


def _indexed(shared: Shared, finder: _Finder, names: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The same answer from the lineage index: the deps that may have read the version pick the
    locks to examine, and only commits holding one of those locks are looked at."""
    index = shared.index
    locks: dict[str, list[dict[str, Any]]] = {}
    direct = {lock for lock, *_ in index.candidate_deps(finder.path, finder.oid, finder.kind)}
    holder: dict[str, str] = {}  # lock -> the newest reachable commit holding it (gaps name it)
    for sha in reversed(index.order):
        holder[index.lock_of(sha)] = sha
    for lock in direct | index.unparsed_locks():
        commit = holder.get(lock)
        if commit is None:
            continue  # only unreachable commits hold it
        entries = index.entries(lock)
        # a lock the index could not read (no entries): the parser says what it holds
        uses = finder.consumers(entries, commit) if entries else finder.uses(shared.view(commit))
        if uses:
            locks[lock] = uses
    if not locks:
        return []
    facts = index.commits_with(set(locks))
    out = []
    for sha in index.order:  # reachable now, newest first
        fact = facts.get(sha)
        if fact is None:
            continue
        tz = _dt.timezone(_dt.timedelta(minutes=fact["offset"]))
        info = {
            "commit": sha,
            "author": fact["author"],
            "email": fact["email"],
            "date": _dt.datetime.fromtimestamp(fact["time"], tz).isoformat(),
            "message": fact["summary"],
        }
        out.append(_consumer(info, sha, names, fact["exp"], locks[index.lock_of(sha)]))
    return out


def _missing(path: str, gap: str | None):
    from cairn.errors import ObjectMissingError

    return ObjectMissingError(f"the version of {path} cannot be read: {gap}", "run `cairn fetch` for that revision")


class _Finder:
    """Which stages of a lock consumed the version, directly or through what they produced."""

    def __init__(self, shared: Shared, path: str, oid: str, kind: str) -> None:
        self.shared, self.path, self.oid, self.kind = shared, path, oid, kind
        self.gaps: list[dict[str, Any]] = []
        self._by_lock: dict[str, list[dict[str, Any]]] = {}
        self._gapped: set[str] = set()

    def uses(self, view) -> list[dict[str, Any]]:
        blob = view.git_obj("cairn.lock")
        if blob is None or blob.type_str != "blob":
            return []
        key = str(blob.id)
        if key not in self._by_lock:
            self._by_lock[key] = self._consumers(view.lock, view.commit)
        return self._by_lock[key]

    def consumers(self, lock: dict[str, Any], commit: str) -> list[dict[str, Any]]:
        """Stages of one lock (name -> entry with deps and outs) that consumed the version."""
        return self._consumers(lock, commit)

    def _consumers(self, lock: dict[str, StageLock], commit: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        fed: dict[str, tuple[str, str]] = {}  # out path -> (oid, stage) of stages found: their consumers follow
        seen: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, entry in lock.items():
                if name in seen:
                    continue
                via = None
                for dep in entry.deps:
                    if self._matches(dep.path, dep.oid, dep.kind, commit):
                        via = {"dep": dep.path, "via": None}
                        break
                    if dep.path in fed and fed[dep.path][0] == dep.oid:
                        via = {"dep": dep.path, "via": fed[dep.path][1]}
                        break
                if via is None:
                    continue
                seen.add(name)
                changed = True
                outs = [{"path": o.path, "oid": o.oid, "kind": o.kind, "size": o.size} for o in entry.outs]
                fed.update({o.path: (o.oid, name) for o in entry.outs})
                found.append({"stage": name, **via, "outs": outs})
        return found

    def _matches(self, dep_path: str, dep_oid: str, dep_kind: str, commit: str) -> bool:
        """Did this dep read the version: the same path and id, a folder holding it (the same
        id at its place inside), or a part of it (the dep's id at its place in the version)."""
        try:
            if dep_path == self.path:
                return dep_oid == self.oid
            if self.path.startswith(dep_path + "/") and dep_kind == TREE:
                return self._at(dep_oid, self.path[len(dep_path) + 1 :]) == self.oid
            if dep_path.startswith(self.path + "/") and self.kind == TREE:
                return self._at(self.oid, dep_path[len(self.path) + 1 :]) == dep_oid
        except _Gap as e:
            if (dep_oid, commit) not in self._gapped:
                self._gapped.add((dep_oid, commit))
                self.gaps.append({"commit": commit, "path": dep_path, "oid": dep_oid, "problem": str(e)})
        return False

    def _at(self, tree_oid: str, rel: str) -> str | None:
        oid = tree_oid
        for name in rel.split("/"):
            tree = self.shared.tree(oid)
            if tree is None:
                raise _Gap(f"tree object {oid} is not in the cache (run `cairn fetch`)")
            entry = tree.get(name)
            if entry is None:
                return None
            oid = entry.oid
        return oid


def _tips(shared: Shared) -> list:
    import pygit2

    repo = shared.git.repo
    tips = []
    for name in repo.references:
        if name.startswith(_REFS):
            try:
                tips.append(repo.references[name].peel(pygit2.Commit).id)
            except (pygit2.GitError, ValueError, KeyError):
                continue
    return tips


def _commits(shared: Shared):
    import pygit2

    tips = _tips(shared)
    if not tips:
        return []
    walker = shared.git.repo.walk(tips[0], pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    for tip in tips[1:]:
        walker.push(tip)
    return walker


def _ref_names(shared: Shared) -> dict[str, list[str]]:
    import pygit2

    repo = shared.git.repo
    out: dict[str, list[str]] = {}
    for name in repo.references:
        if name.startswith(_REFS):
            try:
                sha = str(repo.references[name].peel(pygit2.Commit).id)
            except (pygit2.GitError, ValueError, KeyError):
                continue
            short = name.split("/", 2)[2] if not name.startswith("refs/cairn/") else name[len("refs/cairn/") :]
            out.setdefault(sha, []).append(short)
    return out


def _experiment(commit) -> str | None:
    from cairn.experiments.record import parse_message

    info = parse_message(commit.message, str(commit.id), "")
    return info.name if info is not None else None
