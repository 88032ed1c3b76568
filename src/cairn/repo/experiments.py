"""The experiments facade: wires an ExpContext from the repo and holds the repo lock where
the workspace is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import UserInputError
from cairn.experiments import executor, manage
from cairn.experiments import overrides as ovr
from cairn.experiments.queue import Entry
from cairn.experiments.record import ExpInfo, metric_files, read_metrics, read_params
from cairn.processes import running

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


def child_command(name: str) -> list[str]:
    """How a queued experiment is run: this same cairn, as a child process."""
    return [sys.executable, "-m", "cairn", "exp", "run-queued", name]


class Experiments:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        git = repo._need_git("exp")
        self.ctx = executor.ExpContext(repo.root, repo.dot, repo.ws, git, repo.environment)

    # -- running -------------------------------------------------------------------------------
    def run(self, specs: list[str], name: str | None, targets: list[str], jobs: int, reporter=None) -> ExpInfo:
        combos = ovr.combinations(ovr.parse(specs))
        if len(combos) > 1:
            raise UserInputError("a sweep runs as queued experiments", "add --queue, then `cairn queue start`")
        with self.repo.lock():
            info = executor.run_in_workspace(self.ctx, combos[0], name, targets, jobs, reporter)
        self._index_refresh()
        return info

    def save(self, name: str | None) -> ExpInfo:
        """Record the workspace as an experiment without running: outputs changed by hand are
        committed first (repo/commit.py), as DVC's `exp save` does."""
        from cairn.experiments.save import save_workspace
        from cairn.repo.commit import commit

        commit(self.repo, strict=False)
        with self.repo.lock():
            info = save_workspace(self.ctx, name)
        self._index_refresh()
        return info

    def enqueue(self, specs: list[str], name: str | None, targets: list[str]) -> list[Entry]:
        return executor.enqueue(self.ctx, ovr.combinations(ovr.parse(specs)), name, targets)

    def run_queued(self, name: str, reporter=None) -> ExpInfo:
        return executor.run_queued(self.ctx, name, reporter)

    def run_all(self, jobs: int, run_child: executor.RunChild | None = None) -> dict[str, str]:
        """Run the queue now. `run_child(name)` runs one queued experiment in this process (the
        CLI's `exp run-queued`): given, each experiment is a fork of this process calling it
        rather than a new `cairn exp run-queued` program (see executor.run_queue)."""
        q = self.ctx.queue()
        try:
            if not any(e.status == "queued" for e in q.entries()):
                raise UserInputError("nothing is queued", "queue experiments with `cairn exp run --queue -S KEY=VALUE`")
        finally:
            q.close()
        return executor.run_queue(self.ctx, jobs, child_command, run_child=run_child)

    def start_worker(self, jobs: int) -> int:
        """Run the queue in a background process; returns its pid."""
        q = self.ctx.queue()
        try:
            pid, _ = q.worker()
            if running(pid):
                raise UserInputError(f"a queue worker is already running (pid {pid})", "see `cairn queue status`")
            if not any(e.status == "queued" for e in q.entries()):
                raise UserInputError("nothing is queued", "queue experiments with `cairn exp run --queue -S KEY=VALUE`")
            log = self.ctx.state / "queue" / "worker.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cairn", "queue", "worker", "-j", str(jobs)],
                    cwd=self.repo.root,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            q.set_worker(proc.pid)
            return proc.pid
        finally:
            q.close()

    def worker_loop(self, jobs: int, run_child: executor.RunChild | None = None) -> dict[str, str]:
        # no connection stays open while the queue runs (see executor.run_queue)
        self._set_worker(os.getpid())

        def should_stop() -> bool:
            q = self.ctx.queue()
            try:
                return q.worker()[1]
            finally:
                q.close()

        try:
            return executor.run_queue(self.ctx, jobs, child_command, should_stop, run_child)
        finally:
            self._set_worker(None)

    def _set_worker(self, pid: int | None) -> None:
        q = self.ctx.queue()
        try:
            q.set_worker(pid)
        finally:
            q.close()

    def stop_worker(self) -> int | None:
        q = self.ctx.queue()
        try:
            pid, _ = q.worker()
            if not running(pid):
                return None
            q.set_worker(pid, stop=True)  # it finishes what runs and starts nothing new
            return pid
        finally:
            q.close()

    # -- the queue -----------------------------------------------------------------------------
    def queue_entries(self) -> list[Entry]:
        """Every entry (an experiment whose process died is marked failed, and the temporary
        workspace it left behind deleted)."""
        q = self.ctx.queue()
        try:
            entries = q.entries()
            executor.remove_orphans(self.ctx, q)
            return entries
        finally:
            q.close()

    def live_metrics(self, entry: Entry) -> dict[str, Any]:
        """Latest values of a running experiment: its pipeline's metrics files (else cairn.track's)."""
        if not entry.workspace or entry.status != "running":
            return {}
        from cairn.experiments.record import live_metrics

        return live_metrics(Path(entry.workspace))

    def queue_kill(self, name: str) -> bool:
        q = self.ctx.queue()
        try:
            entry = q.get(name)
            if entry is None:
                raise UserInputError(f"no queued experiment named {name!r}", "see `cairn queue status`")
            if entry.status != "running":
                raise UserInputError(
                    f"{name!r} is not running (it is {entry.status})",
                    "`cairn queue remove` drops queued ones"
                    if entry.status == "queued"
                    else f"it has ended: `cairn queue logs {name}` shows its output",
                )
            # recorded before the signal: the experiment's process, stopping, records its own
            # end only while the entry still says running, so this reason is the one kept
            q.finish(name, "killed", None, "killed with `cairn queue kill`")
            return executor.kill(entry.pid)
        finally:
            q.close()

    def queue_remove(self, names: list[str] | None) -> int:
        """Drop the named entries (all that are not running when None). Every name is checked
        first: a typo or a running entry refuses the whole command, removing nothing."""
        q = self.ctx.queue()
        try:
            for name in names or []:
                entry = q.get(name)
                if entry is None:
                    raise UserInputError(f"no queued experiment named {name!r}", "see `cairn queue status`")
                if entry.status == "running":
                    raise UserInputError(f"{name!r} is running", f"stop it first with `cairn queue kill {name}`")
            return q.remove(names)
        finally:
            q.close()

    def log_path(self, name: str) -> Path:
        return self.ctx.logs() / f"{name}.log"

    # -- comparing and acting -------------------------------------------------------------------
    def _index_refresh(self) -> list[ExpInfo]:
        idx = self.ctx.index()
        try:
            return idx.all()
        finally:
            idx.close()

    def list(self, all_baselines: bool = True) -> list[ExpInfo]:
        infos = self._index_refresh()
        head = None if all_baselines else self._head()
        return sorted(manage.select(infos, head, all_baselines), key=lambda i: i.created)

    def _head(self) -> str | None:
        repo = self.ctx.git.repo
        return None if repo.head_is_unborn else str(repo.head.target)

    def get(self, name: str) -> ExpInfo:
        return manage.find(self._index_refresh(), name)

    def workspace_values(self) -> tuple[dict, dict, dict]:
        from cairn.experiments.record import environment
        from cairn.pipelines.spec import load_pipeline
        from cairn.scm.commits import workspace_changes

        pipeline = load_pipeline(self.repo.root)
        env = environment(self._head() or "", bool(workspace_changes(self.ctx.git)))
        return read_params(self.repo.root, pipeline), read_metrics(self.repo.root, metric_files(pipeline)), env

    def diff(self, a: str, b: str | None) -> dict:
        first = self.get(a)
        if b is None:
            params, metrics, env = self.workspace_values()
        else:
            other = self.get(b)
            params, metrics, env = other.params, other.metrics, other.env
        return manage.diff(first, params, metrics, env)

    def apply(self, name: str, force: bool) -> list[str]:
        info = self.get(name)
        with self.repo.lock():
            written = manage.apply_files(self.ctx.git, info, self.repo.root, force)
        # outputs and data of the experiment come from the cache
        from cairn.pipelines import lock as lock_mod

        roots = [r for e in lock_mod.read(self.repo.root).values() for r in e.roots()]
        missing = [oid for _, oid in roots if not self.repo.store.exists(oid)]
        if missing and self.repo.remotes.default():
            self.repo.fetch(roots)
        self._checkout_outputs()
        return written

    def _checkout_outputs(self) -> None:
        from cairn.index.pointer import Pointer
        from cairn.pipelines import lock as lock_mod
        from cairn.workspace.checkout import checkout_versions

        versions = [
            (o.path, Pointer(o.path.rpartition("/")[2], o.kind, o.oid, o.size, o.files))
            for e in lock_mod.read(self.repo.root).values()
            for o in e.outs
        ]
        with self.repo.lock():
            if versions:
                checkout_versions(self.repo.ws, versions, force=True)
        pointers = self.repo.pointers()
        if pointers:
            self.repo.checkout(pointers)

    def branch(self, name: str, branch: str) -> ExpInfo:
        info = self.get(name)
        manage.branch(self.ctx.git, info, branch)
        return info

    def remove(self, names: list[str], all_: bool, older_than: str | None) -> list[str]:
        infos = self._index_refresh()
        if all_:
            chosen = infos
        elif older_than:
            chosen = manage.older_than(infos, older_than)
        else:
            if not names:
                raise UserInputError("name the experiments to remove", "or use --all / --older-than DATE")
            chosen = [manage.find(infos, n) for n in names]
        # opened first: a damaged queue refuses the command before any ref is deleted
        q = self.ctx.queue()
        try:
            removed = manage.remove(self.ctx.git, chosen)
            # a finished queue entry would keep holding the name (`exp run -n NAME` refusing it);
            # most experiments were never queued, so a name missing there is fine
            q.remove(removed)
        finally:
            q.close()
        self._index_refresh()
        return removed

    def push(self, git_remote: str, names: list[str], cairn_remote: str | None) -> list[str]:
        infos = self._index_refresh()
        chosen = [manage.find(infos, n) for n in names] if names else infos
        if not chosen:
            raise UserInputError("there are no experiments to push", "run one with `cairn exp run`")
        roots = self._data_roots(chosen)
        if roots and (cairn_remote or self.repo.remotes.default()):
            self.repo.push(roots, cairn_remote)
        manage.push_refs(self.ctx.git, git_remote, chosen)
        return [i.name for i in chosen]

    def pull(self, git_remote: str, cairn_remote: str | None) -> list[str]:
        before = {i.ref for i in self._index_refresh()}
        manage.pull_refs(self.ctx.git, git_remote)
        new = [i for i in self._index_refresh() if i.ref not in before]
        roots = self._data_roots(new)
        if roots and (cairn_remote or self.repo.remotes.default()):
            self.repo.fetch(roots, cairn_remote)
        return [i.name for i in new]

    def _data_roots(self, infos: list[ExpInfo]) -> list[tuple[str, str]]:
        """Outputs and data each experiment's commit references (lock outs and pointers)."""
        from cairn.repo.roots import commit_roots

        return [root for info in infos for root in commit_roots(self.ctx.git, info.commit)]
