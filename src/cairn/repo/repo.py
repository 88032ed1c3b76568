"""`Repo`: one object per repository that the CLI, the API and later layers call."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.errors import AlreadyInitializedError, NotARepoError, PathError
from cairn.index import pointer as ptr
from cairn.index.ignore import Ignore
from cairn.index.statcache import StatCache
from cairn.objects.store import ObjectStore
from cairn.progress import NULL, Progress
from cairn.repo.config import CONFIG_FILE, DEFAULT_CONFIG, Config
from cairn.workspace.context import DOT_DIR, Workspace, data_rel
from cairn.workspace.linking import parse_link_types

if TYPE_CHECKING:
    from cairn.remotes.gc import GcPolicy, RemoteGcPlan
    from cairn.remotes.result import TransferResult
    from cairn.remotes.status import RemoteStatus
    from cairn.repo.merge import SetupResult
    from cairn.workspace.add import AddResult
    from cairn.workspace.checkout import CheckoutResult
    from cairn.workspace.diff import FileChange
    from cairn.workspace.fsck import FsckReport
    from cairn.workspace.gc import GcPlan
    from cairn.workspace.status import PathStatus

MERGE_STATE = "merge.json"  # in .cairn/state/ while a merge of tracked data is unfinished (repo/mergestate.py)
# Operation modules are imported where used: `cairn status` should not pay for checkout or gc.

DOT_GITIGNORE = "/cache/\n/tmp/\n/state/\n/config.local.toml\n"
HOOK_MARK = "# installed by cairn install-hooks"
_HOOK_RUN = """if ! command -v cairn >/dev/null 2>&1; then
    echo "cairn {name}: cairn is not on PATH; run 'cairn checkout' yourself" >&2
    exit 0
fi
exec cairn checkout
"""
# After a branch checkout, and after a merge (`git pull`) moved pointers: tracked data matches
# them. Without the second (git-lfs installs it too), files stayed at the old version after a
# `git pull`, and a later `cairn add` recorded them again over a teammate's change.
HOOKS = {
    "post-checkout": f"""#!/bin/sh
{HOOK_MARK}
# After a branch checkout, make tracked data match the new pointers.
[ "$3" = "1" ] || exit 0
{_HOOK_RUN.format(name="post-checkout")}""",
    "post-merge": f"""#!/bin/sh
{HOOK_MARK}
# After a merge or a `git pull`, make tracked data match the merged pointers.
{_HOOK_RUN.format(name="post-merge")}""",
}


def _find_up(start: Path, name: str) -> Path | None:
    for d in (start, *start.parents):
        if (d / name).exists():
            return d
    return None


class Repo:
    def __init__(self, root: Path, progress: Progress = NULL) -> None:
        self.root = root
        self.dot = root / DOT_DIR
        self.config = Config(self.dot)
        self.progress = progress

    # -- finding and creating ----------------------------------------------------------------
    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None, progress: Progress = NULL) -> Repo:
        here = Path(os.path.abspath(start or os.getcwd()))
        root = _find_up(here, f"{DOT_DIR}/{CONFIG_FILE}")
        if root is None:
            where = "a git repository" if _find_up(here, ".git") else "a directory"
            raise NotARepoError(
                f"{here} is {where} but not a cairn repository (no .cairn/ here or above)",
                "run `cairn init` at the top of the project",
            )
        return cls(root, progress)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, no_scm: bool = False, force: bool = False) -> Repo:
        here = Path(os.path.abspath(path or os.getcwd()))
        git_root = _find_up(here, ".git")
        if git_root is None and not no_scm:
            raise NotARepoError(
                f"{here} is not inside a git repository",
                "run `git init` first, or `cairn init --no-scm` to use cairn without git",
            )
        root = here if no_scm else git_root
        assert root is not None
        dot = root / DOT_DIR
        if (dot / CONFIG_FILE).exists() and not force:
            raise AlreadyInitializedError(
                f"{root} is already a cairn repository", "use `cairn init --force` to re-initialize"
            )
        dot.mkdir(exist_ok=True)
        config = DEFAULT_CONFIG + ("\n[core]\nno_scm = true\n" if no_scm else "")
        (dot / CONFIG_FILE).write_text(config)
        (dot / ".gitignore").write_text(DOT_GITIGNORE)
        return cls(root)

    # -- the pieces --------------------------------------------------------------------------
    @cached_property
    def store(self) -> ObjectStore:
        from cairn.objects.chunks import Chunking

        chunking = Chunking(self.config.get("cache.chunking.enabled"), self.config.get("cache.chunking.min_size"))
        return ObjectStore(self.dot / self.config.get("cache.dir"), chunking, self.config.get("cache.pack_size"))

    @cached_property
    def stats(self) -> StatCache:
        return StatCache(self.dot / "state" / "stat.db")

    @cached_property
    def ws(self) -> Workspace:
        return Workspace(
            self.root,
            self.store,
            self.stats,
            parse_link_types(self.config.get("cache.type")),
            Ignore.load(self.root),
            self.progress,
            self.config.get("core.walk_split_files"),
            self.config.get("core.hash_split_files"),
        )

    @cached_property
    def git(self):
        """The git adapter, or None with `core.no_scm`."""
        if self.config.get("core.no_scm"):
            return None
        from cairn.scm.git import Git

        return Git(self.root)

    @cached_property
    def remotes(self):
        from cairn.repo.remotes import Remotes

        return Remotes(self)

    def lock(self):
        from cairn.repo.lock import repo_lock  # here: readers (status, diff) take no lock

        # a Progress written before notices existed has no notice(): it simply is not told
        notice = getattr(self.progress, "notice", None)
        return repo_lock(self.dot / "tmp", float(self.config.get("core.lock_wait")), notice)

    def close(self) -> None:
        self.stats.close()

    # -- targets -----------------------------------------------------------------------------
    def pointers(self, targets: Iterable[str] | None = None) -> list[str]:
        """Pointer files for user-given targets (data paths or pointer files); all when none."""
        targets = list(targets or [])
        if not targets:
            return sorted(self.ws.pointer_files())
        out = []
        for t in targets:
            rel = self.ws.rel(t)
            if rel.endswith(ptr.SUFFIX) and (self.root / rel).is_file():
                out.append(rel)
            elif (self.root / (rel + ptr.SUFFIX)).is_file():
                out.append(rel + ptr.SUFFIX)
            elif (self.root / rel).is_dir():
                inner = sorted(self.ws.pointer_files(rel))
                if not inner:
                    raise PathError(f"nothing under {rel} is tracked by cairn", f"track it with `cairn add {t}`")
                out.extend(inner)
            else:
                raise PathError(f"{rel} is not tracked by cairn", f"track it with `cairn add {t}`")
        return out

    # -- operations --------------------------------------------------------------------------
    def add(self, paths: Iterable[str], follow_symlinks: bool | None = None) -> list[AddResult]:
        """Track paths; `follow_symlinks` also stores what links leaving the repository point to
        (None: as each path's pointer says, else not)."""
        from cairn.workspace import add as add_op

        rels = [self.ws.rel(p) for p in paths]
        git_tracked = None
        if not self.config.get("core.no_scm"):
            from cairn.scm.staged import tracked_under

            def git_tracked(rel: str) -> list[str]:
                return tracked_under(self.root, rel)

        with self.lock():
            for rel in rels:
                add_op.check_addable(self.ws, rel, git_tracked, follow_symlinks)
            return [add_op.add(self.ws, rel, follow_symlinks) for rel in rels]

    def status(self, targets: Iterable[str] | None = None) -> list[PathStatus]:
        from cairn.workspace.status import status

        return status(self.ws, self.pointers(targets))

    def checkout(self, targets: Iterable[str] | None = None, force: bool = False) -> list[CheckoutResult]:
        """Make tracked data, and the pipeline outputs cairn.lock records, match their versions."""
        from cairn.index.pointer import Pointer
        from cairn.pipelines import lock as lock_mod
        from cairn.workspace import checkout as checkout_op

        targets = list(targets or [])
        outs = [o for e in lock_mod.read(self.root).values() for o in e.outs]
        if targets:
            wanted = {self.ws.rel(t) for t in targets}
            outs = [o for o in outs if o.path in wanted]
            targets = [t for t in targets if self.ws.rel(t) not in {o.path for o in outs}]
        versions = [(o.path, Pointer(o.path.rpartition("/")[2], o.kind, o.oid, o.size, o.files)) for o in outs]
        with self.lock():
            pointers = self.pointers(targets) if targets or not versions else sorted(self.ws.pointer_files())
            return checkout_op.checkout_all(self.ws, pointers, versions, force)

    def diff(self, a: str | None = None, b: str | None = None) -> list[FileChange]:
        """Changes from revision `a` (default HEAD) to revision `b` (default: the workspace)."""
        from cairn.workspace import diff as diff_op

        git = self._need_git("diff")
        old = diff_op.versions_from_pointers(git.files_with_suffix(a or "HEAD", ptr.SUFFIX), a or "HEAD")
        if b is None:
            new, trees = diff_op.versions_in_workspace(self.ws, self.pointers())
        else:
            new, trees = diff_op.versions_from_pointers(git.files_with_suffix(b, ptr.SUFFIX), b), {}
        return diff_op.diff_versions(self.ws, old, new, trees)

    def _need_git(self, what: str):
        if self.git is None:
            raise NotARepoError(
                f"`cairn {what}` compares git revisions, and this repository has no git (core.no_scm)",
                "run `git init`, then set core.no_scm to false in .cairn/config.toml",
            )
        return self.git

    # -- merging (repo/merge.py) -------------------------------------------------------------
    def merge_setup(self):
        from cairn.repo.merge import setup

        return setup(self)

    def merge_driver(self, base: str, ours: str, theirs: str, path: str):
        from cairn.repo.merge import driver

        return driver(self, base, ours, theirs, path)

    def merge_resolve(self, path: str, side: str):
        from cairn.repo.mergeresolve import resolve

        return resolve(self, path, side)

    def merge_conflicts(self) -> list[dict]:
        if not (self.dot / "state" / MERGE_STATE).exists():
            return []  # no merge under way: `cairn status` does not import the merge state's module
        from cairn.repo.mergestate import conflicts

        return conflicts(self)

    def gc_roots(self) -> list[tuple[str, str]]:
        """(kind, oid) of every version gc and fsck must keep (repo/roots.py)."""
        from cairn.repo.roots import local_roots

        return local_roots(self)

    # -- pipelines ---------------------------------------------------------------------------
    def pipeline_graph(self):
        """The validated stage graph of cairn.yaml, or None when there is no cairn.yaml."""
        from cairn.pipelines import dag
        from cairn.pipelines.runner import tracked_paths
        from cairn.pipelines.spec import load_pipeline

        pipeline = load_pipeline(self.root)
        if pipeline is None:
            return None
        return dag.build(pipeline, tracked_paths(self.ws))

    def _need_pipeline(self):
        graph = self.pipeline_graph()
        if graph is None:
            raise PathError(
                f"there is no cairn.yaml in {self.root}",
                "define stages with `cairn stage add -n NAME -d DEP -o OUT CMD` or write cairn.yaml",
            )
        return graph

    def repro(self, opts, reporter=None):
        """Run the stale stages (see pipelines.runner.ReproOptions)."""
        from cairn.pipelines.runner import Runner

        with self.lock():
            graph = self._need_pipeline()
            from cairn.repo.datastats import check_stage_inputs

            check_stage_inputs(self, graph)  # a dataset breaking its schema: stop before any stage runs
            return Runner(self.ws, graph, reporter, self.environment).run(opts)

    def fetch_pipeline_data(self, remote: str | None = None) -> None:
        """`repro --pull`: what cairn.lock references into the cache, and the tracked data the
        stages read and the workspace lacks (repo/remotes.py)."""
        from cairn.repo.remotes import fetch_pipeline_data

        fetch_pipeline_data(self, remote)

    def has_pipeline(self) -> bool:
        return (self.root / "cairn.yaml").exists()

    def pipeline_status(self) -> dict[str, list[str]]:
        """Stale stages and why; empty without a cairn.yaml."""
        if not self.has_pipeline():
            return {}  # and `cairn status` pays nothing for the pipeline machinery
        from cairn.pipelines.runner import Runner

        graph = self.pipeline_graph()
        return Runner(self.ws, graph, env=self.environment).status() if graph is not None else {}

    @cached_property
    def environment(self):
        """Environment records: capture, store, compare (repo/environment.py)."""
        from cairn.repo.environment import RepoEnvironment

        return RepoEnvironment(self)

    def environment_changes(self) -> dict[str, list[str]]:
        """stage -> how the current environment differs from the one its run recorded."""
        if not self.has_pipeline():
            return {}
        return self.environment.stage_changes()

    # -- remotes -----------------------------------------------------------------------------
    def transfer_roots(
        self,
        targets: Iterable[str] | None = None,
        all_branches: bool = False,
        all_tags: bool = False,
        all_commits: bool = False,
    ) -> list[tuple[str, str]]:
        """What push/fetch move (repo/roots.py)."""
        from cairn.repo.roots import transfer_roots

        return transfer_roots(self, targets, all_branches, all_tags, all_commits)

    def push(
        self,
        roots: list[tuple[str, str]],
        remote: str | None = None,
        jobs: int | None = None,
        verify: bool = False,
        scope: dict[str, bool] | None = None,
    ) -> TransferResult:
        """Send what `roots` reach; the root record names the refs of `scope` (all_branches,
        all_tags, all_commits), or the checked-out branch."""
        from cairn.repo.remotes import push

        return push(self, roots, remote, jobs, verify, scope or {})

    def fetch(self, roots: list[tuple[str, str]], remote: str | None = None, jobs: int | None = None) -> TransferResult:
        from cairn.repo.remotes import fetch

        return fetch(self, roots, remote, jobs)

    def pull(
        self, targets: Iterable[str] | None = None, remote: str | None = None, jobs: int | None = None, **scope: bool
    ) -> tuple[TransferResult, list[CheckoutResult]]:
        """fetch + checkout of the workspace pointers (or `targets`)."""
        from cairn.repo.remotes import pull

        return pull(self, list(targets or []), remote, jobs, **scope)

    def push_run_cache(self, remote: str | None = None, jobs: int | None = None) -> int:
        """Share run-cache entries (and the outputs they restore) so CI and teammates skip work
        already done. Returns how many entries were uploaded."""
        from cairn.pipelines.runcache import RunCache

        runs = RunCache(self.store.root)
        r = self.remotes.open(remote, jobs)
        try:
            on_remote = {k.rpartition("/")[2].removesuffix(".json") for k, _ in r.storage.list("runs")}
            sent = 0
            roots = []
            for key in runs.list_keys():
                outs = runs.get(key)
                if outs is None or not all(self.store.exists(o.oid) for o in outs):
                    continue  # an entry is shared only with the outputs it restores
                roots += [r for r in runs.roots(key) if self.store.exists(r[1])]
                if key not in on_remote:
                    r.storage.put_bytes(f"runs/{key}.json", runs.path(key).read_bytes())
                    sent += 1
        finally:
            r.close()
        if roots:
            self.push(roots, remote, jobs)
        return sent

    def pull_run_cache(self, remote: str | None = None, jobs: int | None = None) -> int:
        """Bring run-cache entries (and their outputs) from a remote. Returns how many were new."""
        from cairn.pipelines.runcache import RunCache

        runs = RunCache(self.store.root)
        have = set(runs.list_keys())
        r = self.remotes.open(remote, jobs)
        got = 0
        try:
            for k, _ in r.storage.list("runs"):
                key = k.rpartition("/")[2].removesuffix(".json")
                if key in have or len(key) != 64:
                    continue
                runs.put_raw(key, r.storage.get_bytes(k))
                got += 1
        finally:
            r.close()
        # outputs only: an entry's environment record may never have reached the remote (the
        # lock that names it carries it with the data)
        roots = [(o.kind, o.oid) for key in runs.list_keys() for o in (runs.get(key) or [])]
        if roots:
            self.fetch(roots, remote, jobs)
        return got

    def remote_status(self, remote: str | None = None) -> RemoteStatus:
        from cairn.repo.remotes import remote_status

        return remote_status(self, remote)

    def remote_gc(self, remote: str, policy: GcPolicy, sweep: bool = False) -> RemoteGcPlan:
        """Plan (and with `sweep`, carry out) a gc of the shared remote `remote`."""
        from cairn.repo.remotes import remote_gc

        return remote_gc(self, remote, policy, sweep)

    def gc_plan(self) -> GcPlan:
        from cairn.workspace import gc as gc_op

        return gc_op.plan(self.ws, self.gc_roots())

    def gc(self, gc_plan: GcPlan, force: bool = False) -> int:
        from cairn.errors import WouldLoseDataError
        from cairn.workspace import gc as gc_op

        with self.lock():
            # re-plan under the lock: an `add` may have referenced objects since the dry run
            fresh = self.gc_plan()
            if fresh.missing_trees and not force:
                raise WouldLoseDataError(
                    f"{len(fresh.missing_trees)} referenced folder version(s) are not in the cache, so the "
                    "objects they contain cannot be told apart from garbage; nothing was removed",
                    "run `cairn fetch --all-commits` first, or `cairn gc --yes --force` to remove anyway",
                )
            fresh.unused = sorted(set(fresh.unused) & set(gc_plan.unused))
            return gc_op.sweep(self.ws, fresh)

    def fsck(self, delete_corrupt: bool = False) -> FsckReport:
        from cairn.workspace import fsck as fsck_op

        roots = [(p.kind, p.oid) for p in map(self.ws.load_pointer, self.ws.pointer_files())]
        report = fsck_op.fsck(self.ws, roots)
        if delete_corrupt and report.corrupt:
            with self.lock():
                doomed = set(report.corrupt) | fsck_op.trees_containing(self.ws, roots, set(report.corrupt))
                for oid in doomed:
                    self.store.remove(oid)
                self.store.drop_packed(doomed)
        return report

    def unprotect(self, targets: Iterable[str]) -> list[str]:
        """Turn linked (read-only, shared with the cache) files into private writable copies."""
        from cairn.workspace.linking import is_linked, make_writable_copy

        done = []
        with self.lock():
            self.ws.tmp.mkdir(parents=True, exist_ok=True)
            tmp = str(self.ws.tmp / f"unprotect.{os.getpid()}")
            for pointer_rel in self.pointers(targets):
                p = self.ws.load_pointer(pointer_rel)
                rel = data_rel(pointer_rel, p)
                base = self.root / rel
                files = [base] if base.is_file() else [f for f in base.rglob("*") if f.is_file()]
                for f in files:
                    if is_linked(str(f)):
                        make_writable_copy(str(f), tmp)
                        done.append(f.relative_to(self.root).as_posix())
        return done

    def install_hooks(self, force: bool = False) -> tuple[list[Path], SetupResult]:
        """Write the post-checkout and post-merge hooks and set up the merge driver; the hooks'
        paths and the merge setup's result (what it added to .gitattributes, to be committed).
        A hook cairn did not write is refused (all of them, before any is written) unless `force`."""
        git = self._need_git("install-hooks")
        hooks = git.hooks_dir()
        hooks.mkdir(parents=True, exist_ok=True)
        paths = [hooks / name for name in HOOKS]
        for hook in paths:
            if hook.exists() and HOOK_MARK not in hook.read_text() and not force:
                raise PathError(
                    f"{hook} already exists and was not written by cairn",
                    "merge it by hand (add the line `cairn checkout`), or overwrite with --force",
                )
        for hook in paths:
            tmp = hook.with_name(f"{hook.name}.cairn-tmp")
            tmp.write_text(HOOKS[hook.name])
            tmp.chmod(0o755)
            os.replace(tmp, hook)
        return paths, self.merge_setup()  # the merge driver too (docs/merge.md)
