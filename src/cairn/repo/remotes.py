"""Remote definitions in the config (`[remote.NAME]`, `core.remote`) and opening them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from cairn.errors import ConfigError
from cairn.repo.config import (
    REMOTE_KEYS,
    Config,
    check_remote_name,
    coerce,
    redacted,
    write,
)

if TYPE_CHECKING:
    from cairn.remotes.remote import Remote
    from cairn.repo.repo import Repo


class Remotes:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def _reload(self) -> None:
        self.repo.config = Config(self.repo.dot)

    def list(self) -> dict[str, dict[str, Any]]:
        return self.repo.config.remotes()

    def default(self) -> str | None:
        return self.repo.config.get("core.remote")

    def add(self, name: str, url: str, default: bool = False, local: bool = False, force: bool = False) -> None:
        check_remote_name(name)
        if name in self.list() and not force:
            raise ConfigError(
                f"remote {name!r} already exists ({redacted('url', self.list()[name].get('url'))})",
                f"change it with `cairn remote modify {name} url URL`, or replace it with --force",
            )
        write(self.repo.dot, f"remote.{name}.url", url, local)  # refuses a URL holding a credential
        if default:
            write(self.repo.dot, "core.remote", name, local)
        self._reload()

    def modify(self, name: str, key: str, value: str | None, local: bool = False) -> None:
        self.need(name)
        if key not in REMOTE_KEYS:
            raise ConfigError(f"remotes have no setting {key!r}", f"settings: {', '.join(REMOTE_KEYS)}")
        full = f"remote.{name}.{key}"  # write() refuses a credential outside the local file
        write(self.repo.dot, full, None if value is None else coerce(full, value), local)
        self._reload()

    def remove(self, name: str) -> None:
        self.need(name)
        for local in (False, True):
            write(self.repo.dot, f"remote.{name}", None, local)
            if self.repo.config.get("core.remote") == name:
                write(self.repo.dot, "core.remote", None, local)
        self._reload()

    def set_default(self, name: str, local: bool = False) -> None:
        self.need(name)
        write(self.repo.dot, "core.remote", name, local)
        self._reload()

    def need(self, name: str) -> dict[str, Any]:
        """The settings of remote `name`; a ConfigError naming the remotes there are when none is."""
        remotes = self.list()
        if name not in remotes:
            import difflib

            near = difflib.get_close_matches(name, list(remotes), n=1)
            known = ", ".join(sorted(remotes)) or "none yet"
            raise ConfigError(
                f"there is no remote named {name!r} (remotes: {known})",
                f"did you mean {near[0]!r}?" if near else "add one with `cairn remote add NAME URL`",
            )
        return remotes[name]

    def open(self, name: str | None = None, jobs: int | None = None) -> Remote:
        from cairn.remotes.remote import Remote
        from cairn.storage import open_storage

        if name is None:
            name = self.default()
            if name is None:
                have = sorted(self.list())
                raise ConfigError(
                    "no remote given and no default remote set"
                    + (f" (remotes: {', '.join(have)})" if have else " (no remote is configured)"),
                    "name one with -r NAME, or set a default: `cairn remote default NAME`"
                    if have
                    else "add one as the default: `cairn remote add -d NAME URL` (a folder, s3://bucket/prefix, ...)",
                )
        spec = dict(self.need(name))
        url = spec.pop("url", None)
        if not url:
            raise ConfigError(f"remote {name!r} has no url", f"set it: `cairn remote modify {name} url URL`")
        spec_jobs = spec.pop("jobs", None)
        pack_size = spec.pop("pack_size", None)
        if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
            url = str(self.repo.root / url)  # relative folders are relative to the repo root
        storage = open_storage(url, spec)
        tag = blake3(url.encode()).hexdigest()[:12]
        index = self.repo.dot / "state" / "remotes" / f"{name}-{tag}.db"
        kwargs = {"pack_target": pack_size} if pack_size else {}
        return Remote(name, storage, index, jobs or spec_jobs or storage.default_jobs, **kwargs)


def run_outputs(data: bytes) -> list[str] | None:
    """The object ids a shared run-cache entry restores (pipelines/runcache.py format); None
    when the entry cannot be read."""
    import json

    from cairn.pipelines.runcache import RUN_VERSION

    try:
        doc = json.loads(data)
        if doc.get("version") != RUN_VERSION:
            return None
        return [str(o["oid"]) for o in doc["outs"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def push(
    repo: Repo, roots: list[tuple[str, str]], remote: str | None, jobs: int | None, verify: bool, scope: dict[str, bool]
):
    """Send what `roots` reach and record the push on the remote (remotes/push.py)."""
    from cairn.remotes.push import push as push_op
    from cairn.repo.roots import push_info

    info = push_info(repo, **scope)
    r = repo.remotes.open(remote, jobs)
    try:
        result = push_op(repo.ws, r, roots, repo.progress, verify, info, _lock_wait(repo), _notice(repo))
        from cairn.repo.datastats import push_stats

        push_stats(repo, r)  # data statistics travel with the data they describe
        return result
    finally:
        r.close()


def fetch(repo: Repo, roots: list[tuple[str, str]], remote: str | None, jobs: int | None):
    from cairn.remotes.fetch import fetch as fetch_op
    from cairn.remotes.fetch import raise_for_failures

    r = repo.remotes.open(remote, jobs)
    try:
        with repo.lock():
            result = fetch_op(repo.ws, r, roots, repo.progress)
        raise_for_failures(r, result)
        from cairn.repo.datastats import fetch_stats

        fetch_stats(repo, r, roots)
        return result
    finally:
        r.close()


def remote_status(repo: Repo, remote: str | None):
    from cairn.remotes.status import remote_status as status_op

    r = repo.remotes.open(remote)
    try:
        return status_op(repo.ws, r, repo.transfer_roots())
    finally:
        r.close()


def remote_gc(repo: Repo, remote: str, policy, sweep: bool):
    """Plan a gc of the shared remote `remote` and, with `sweep`, carry it out. Kept: what this
    clone references, what every ref of the git remotes references, what the root records on the
    remote hold (less those the policy forgets), and whatever was written within the grace
    period. The sweep holds the remote's exclusive lock from before the plan it carries out is
    made, so no push runs meanwhile."""
    from cairn.remotes import gc as gc_op
    from cairn.remotes.lock import remote_lock
    from cairn.repo.roots import shared_roots, who

    roots, where = shared_roots(repo)
    r = repo.remotes.open(remote)
    try:
        if not sweep:
            return gc_op.gc_plan(repo.ws, r, roots, policy, run_outputs, where)
        r.prepare()
        with remote_lock(r.storage, r.name, True, who(repo), _lock_wait(repo), _notice(repo)):
            plan = gc_op.gc_plan(repo.ws, r, roots, policy, run_outputs, where)
            if plan.anything():
                with repo.lock():
                    gc_op.gc_sweep(repo.ws, r, plan)
            return plan
    finally:
        r.close()


def _lock_wait(repo: Repo) -> float:
    return float(repo.config.get("core.lock_wait"))


def _notice(repo: Repo):
    # a Progress written before notices existed has no notice(): it simply is not told
    return getattr(repo.progress, "notice", None)


def fetch_pipeline_data(repo: Repo, remote: str | None) -> None:
    """Bring what cairn.lock references (outputs of recorded runs) into the cache, and pull the
    tracked data (`cairn add`) that stages depend on and the workspace lacks: in a fresh clone
    the outputs come back from the run-cache, but a missing input would stop repro."""
    from cairn.pipelines import lock as lock_mod
    from cairn.pipelines.runner import tracked_paths

    roots = [r for entry in lock_mod.read(repo.root).values() for r in entry.roots()]
    if roots:
        repo.fetch(roots, remote)
    graph = repo.pipeline_graph()
    deps = {d for s in graph.pipeline.stages.values() for d in s.deps} if graph is not None else set()

    def needed(path: str) -> bool:
        return any(d == path or d.startswith(path + "/") or path.startswith(d + "/") for d in deps)

    missing = sorted(p for p in tracked_paths(repo.ws) if needed(p) and not repo.ws.abs(p).exists())
    if missing:
        repo.pull(missing, remote)


def pull(repo: Repo, targets: list[str], remote: str | None, jobs: int | None, **scope: bool):
    """fetch + checkout. Tracked folders absent from the workspace (a fresh clone) are written
    while their objects arrive (remotes/staging.py); the checkout then writes only the rest."""
    from cairn.remotes.fetch import fetch as fetch_op
    from cairn.remotes.fetch import raise_for_failures

    roots = repo.transfer_roots(targets, **scope)
    placed: list[str] = []
    staging = None
    r = repo.remotes.open(remote, jobs)
    try:
        with repo.lock():
            staging = _staging(repo, targets)
            try:
                result = fetch_op(repo.ws, r, roots, repo.progress, staging)
                if staging is not None and not (result.corrupt or result.missing):
                    placed = staging.publish(repo.root)
                    repo.ws.stats.update(staging.records(placed))  # grouped by folder
            finally:
                if staging is not None:
                    staging.discard()
        raise_for_failures(r, result)
        from cairn.repo.datastats import fetch_stats

        fetch_stats(repo, r, roots)
    finally:
        r.close()
    checked = repo.checkout(targets)
    for c in checked:  # what the fetch placed was written by this pull too
        if staging is not None and c.path in placed:
            c.written = sorted(staging.paths(c.path) + c.written)
    return result, checked


def _staging(repo: Repo, targets: list[str]):
    """Staging for the tracked folders of `targets` (all pointers when none) that do not exist
    in the workspace, when checkout would copy files (a link costs less than a copy from memory)."""
    from cairn.errors import CairnError
    from cairn.objects.tree import TREE
    from cairn.remotes.staging import Staging
    from cairn.workspace import linking
    from cairn.workspace.context import data_rel

    try:
        folders = []
        for pointer_rel in repo.pointers(targets):
            p = repo.ws.load_pointer(pointer_rel)
            rel = data_rel(pointer_rel, p)
            if p.kind == TREE and not os.path.lexists(repo.root / rel):
                folders.append((p.oid, rel))
    except CairnError:
        return None  # targets that are not pointers (pipeline outputs): checkout handles them
    if not folders or linking.choose(repo.ws.link_types, repo.store, str(repo.ws.tmp)) != "copy":
        return None
    return Staging(repo.ws.tmp, folders)
