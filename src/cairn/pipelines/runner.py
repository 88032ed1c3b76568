"""`cairn repro`: run the stale stages, independent ones in parallel (-j N).

The coordinating thread decides staleness, commits outputs to the cache and writes cairn.lock;
worker threads only run commands (each in its own process group, so Ctrl-C stops the whole
tree; a watcher process stops them if cairn itself is killed, see lifeline.py). A stage's lock
entry is written only after its outputs are in the cache; an unfinished or failed stage leaves
no entry and no cache object behind."""

from __future__ import annotations

import collections
import graphlib
import os
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cairn.errors import CairnError, PipelineError, StageFailedError, StoppedError
from cairn.index.pointer import Pointer
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.dag import Graph
from cairn.pipelines.lock import PathState, StageLock
from cairn.pipelines.spec import Stage
from cairn.pipelines.state import ParamReader, path_state, reasons
from cairn.workspace.context import Workspace
from cairn.workspace.linking import is_linked, make_writable_copy

if TYPE_CHECKING:
    import queue
    import subprocess

    from cairn.pipelines.lifeline import Lifeline
    from cairn.pipelines.runcache import RunCache

# Running stages needs subprocess, the lifeline, the run-cache and committing to the cache;
# `cairn status` (Runner.status) needs none of them, so they are imported when a run starts
# (~3 ms of a ~80 ms `cairn status`).

_TAIL = 20


class Reporter(Protocol):
    def stage_started(self, name: str, why: list[str]) -> None: ...
    def stage_output(self, name: str, line: str) -> None: ...
    def stage_finished(self, name: str, outcome: str, detail: str = "") -> None: ...


class EnvHook(Protocol):
    """Environment records (repo/environment.py): the runner records one per stage run."""

    def record(self) -> str | None: ...  # the object id of the current environment's record
    def changes(self, oid: str) -> list[str] | None: ...  # what differs from it; None: unreadable


class NullReporter:
    def stage_started(self, name: str, why: list[str]) -> None:
        pass

    def stage_output(self, name: str, line: str) -> None:
        pass

    def stage_finished(self, name: str, outcome: str, detail: str = "") -> None:
        pass


@dataclass
class ReproOptions:
    targets: list[str] = field(default_factory=list)
    force: bool = False
    downstream: bool = False
    single: bool = False
    dry: bool = False
    keep_going: bool = False
    jobs: int = 1
    run_cache: bool = True


@dataclass
class ReproResult:
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # from the run-cache
    up_to_date: list[str] = field(default_factory=list)
    would_run: dict[str, list[str]] = field(default_factory=dict)  # --dry: stage -> reasons
    failed: dict[str, str] = field(default_factory=dict)  # stage -> message
    skipped: list[str] = field(default_factory=list)  # not run because something upstream failed
    # never looked at: the run stopped at a failure (without --keep-going) before their turn;
    # they do not depend on a failed stage and may be up to date
    halted: list[str] = field(default_factory=list)
    # failed stage -> exit code of its failing command: 0 when the commands succeeded but an
    # output is missing, negative N when killed by signal N, None when it could not start
    exit_codes: dict[str, int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ReproFailedError(StageFailedError):
    """StageFailedError (same code and exit code) with the run's result, so callers can read
    each failed stage's exit code (`exit_codes`) and what did run, not only the message."""

    def __init__(self, message: str, hint: str, result: ReproResult) -> None:
        super().__init__(message, hint, list(result.failed))
        self.result = result
        self.exit_codes = dict(result.exit_codes)


@dataclass
class _Job:
    stage: Stage
    why: list[str]
    deps: list[PathState]
    params: dict[str, dict[str, Any]]
    proc: subprocess.Popen | None = None
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=_TAIL))
    code: int | None = 0
    error: str = ""


class Runner:
    def __init__(
        self, ws: Workspace, graph: Graph, reporter: Reporter | None = None, env: EnvHook | None = None
    ) -> None:
        self.ws = ws
        self.env = env
        self._env_oid: str | None = None  # recorded once per run: the environment does not change meanwhile
        self.root = ws.root
        self.graph = graph
        self.reporter = reporter or NullReporter()
        self.locks = lock_mod.read(self.root)
        self.params = ParamReader(self.root)
        self._running: dict[str, _Job] = {}
        self._done: queue.Queue[str]
        self._lifeline: Lifeline
        self.runcache: RunCache

    # -- planning ----------------------------------------------------------------------------
    def selection(self, opts: ReproOptions) -> tuple[list[str], set[str]]:
        """(stages to consider in order, stages forced to run)."""
        # a foreach / matrix name stands for its stages; unknown names fail with a suggestion
        targets = self.graph.pipeline.expand(opts.targets)
        if not targets:  # --single / --downstream narrow given targets; without any, every stage
            chosen = set(self.graph.pipeline.stages)
        elif opts.single:
            chosen = set(targets)
        elif opts.downstream:
            chosen = self.graph.downstream(targets)
        else:
            chosen = self.graph.upstream(targets)
        order = [s for s in self.graph.order() if s in chosen]
        forced = set(order) if opts.force and not targets else set(targets) if opts.force else set()
        return order, forced

    def check(self, stage: Stage) -> tuple[list[str], list[PathState], dict[str, dict[str, Any]]]:
        """(reasons to run, current dep states, current param values)."""
        params_now = self.params.values(stage)
        deps: dict[str, PathState | None] = {}
        for dep in stage.deps:
            deps[dep] = path_state(self.ws, dep)
            if deps[dep] is None and self.graph.producer(dep) is None:
                raise PipelineError(
                    f"{stage.where}: dependency {dep} of stage {stage.name!r} does not exist, and no stage produces it",
                    f"create {dep}, fetch it (`cairn pull`), or add a stage whose outs include it",
                )
        outs = {o.path: path_state(self.ws, o.path) for o in stage.outs}
        recorded = self.locks.get(stage.name)
        why = reasons(stage, recorded, deps, params_now, outs)
        if stage.env_strict and recorded is not None and self.env is not None:
            why += self._env_reasons(recorded.env)
        return why, [d for d in deps.values() if d is not None], params_now

    def _env_reasons(self, oid: str | None) -> list[str]:
        if oid is None:
            return ["no environment recorded (env: strict)"]
        assert self.env is not None
        changed = self.env.changes(oid)
        if changed is None:
            return ["its environment record is not readable (env: strict)"]
        return [f"environment changed: {', '.join(changed)} (env: strict)"] if changed else []

    def status(self) -> dict[str, list[str]]:
        """Every stale stage and why (frozen stages are never stale)."""
        out = {}
        for name in self.graph.order():
            stage = self.graph.pipeline.stages[name]
            if stage.frozen:
                continue
            try:
                why = self.check(stage)[0]
            except PipelineError as e:
                why = [e.message]
            if why:
                out[name] = why
        return out

    # -- running -----------------------------------------------------------------------------
    def run(self, opts: ReproOptions) -> ReproResult:
        import queue

        from cairn.pipelines.lifeline import Lifeline
        from cairn.pipelines.runcache import RunCache

        self.runcache = RunCache(self.ws.store.root)
        self._done = queue.Queue()
        self._lifeline = Lifeline()
        order, forced = self.selection(opts)
        result = ReproResult()
        try:
            try:
                self._schedule(order, forced, opts, result)
            except Exception:
                # bad input found while other stages run (a dependency or param missing): their
                # commands live in their own sessions and would outlive cairn, unrecorded
                self._drain(result)
                raise
        except KeyboardInterrupt:
            stopped = self._stop_all()
            raise StoppedError(
                "stopped" + (f" stage(s) {', '.join(stopped)}" if stopped else "") + "; no lock entry or cache "
                "object was written for an unfinished stage",
                "run `cairn repro` again to finish",
            ) from None
        finally:
            self._lifeline.close()
        if result.failed:
            names = list(result.failed)
            not_run = f"\nnot run because of the failure: {', '.join(result.skipped)}" if result.skipped else ""
            if result.halted:
                not_run += (
                    f"\nnot checked, the run stopped at the failure: {', '.join(result.halted)} "
                    "(`cairn repro --keep-going` goes on with the stages that do not need the failed one)"
                )
            raise ReproFailedError(
                "\n".join(result.failed[n] for n in names) + not_run,
                "fix the command and run `cairn repro` again; stages that succeeded are recorded",
                result,
            )
        return result

    def _schedule(self, order: list[str], forced: set[str], opts: ReproOptions, result: ReproResult) -> None:
        ts = graphlib.TopologicalSorter({s: self.graph.edges[s] & set(order) for s in order})
        ts.prepare()
        jobs = max(1, opts.jobs)
        waiting: list[str] = []
        while ts.is_active():
            waiting.extend(ts.get_ready())
            halted = bool(result.failed) and not opts.keep_going
            while waiting and not halted and len(self._running) < jobs:
                name = waiting.pop(0)
                if self._blocked(name, result):
                    result.skipped.append(name)
                elif self._start(name, name in forced, opts, result):
                    continue
                ts.done(name)
                waiting.extend(ts.get_ready())
            if not self._running:
                if halted or not waiting:
                    break  # halted after a failure, or nothing left that can become ready
                continue
            name = self._done.get()
            self._finish(self._running.pop(name), result)
            ts.done(name)
        settled = set(result.ran) | set(result.restored) | set(result.up_to_date) | set(result.failed)
        settled |= set(result.would_run) | set(result.skipped)
        for s in order:  # in topological order: a stage's dependencies are placed before it
            if s not in settled:
                (result.skipped if self._blocked(s, result) else result.halted).append(s)

    def _drain(self, result: ReproResult) -> None:
        """Start nothing more; let the running stages finish and record those that succeed."""
        while self._running:
            name = self._done.get()
            try:
                self._finish(self._running.pop(name), result)
            except CairnError:
                pass  # the error already being raised ends the run; this stage stays unrecorded

    def _blocked(self, name: str, result: ReproResult) -> bool:
        return any(d in result.failed or d in result.skipped for d in self.graph.edges[name])

    def _start(self, name: str, forced: bool, opts: ReproOptions, result: ReproResult) -> bool:
        """Decide and, when the stage must run, launch it; True when a command was launched."""
        stage = self.graph.pipeline.stages[name]
        if stage.frozen and not forced:
            result.up_to_date.append(name)
            self.reporter.stage_finished(name, "frozen")
            return False
        why, deps, params_now = self.check(stage)
        if forced and not why:
            why = ["forced"]
        if not why:
            result.up_to_date.append(name)
            self.reporter.stage_finished(name, "up to date")
            return False
        if opts.dry:
            result.would_run[name] = why
            self.reporter.stage_finished(name, "would run", "; ".join(why))
            return False
        from cairn.pipelines.runcache import key

        k = key(stage.cmd, deps, params_now)
        if opts.run_cache and not stage.always_changed and not forced and self._restore(stage, k, deps, params_now):
            result.restored.append(name)
            self.reporter.stage_finished(name, "restored", "outputs restored from the run-cache, not run")
            return False
        job = _Job(stage, why, deps, params_now)
        self._prepare_outs(stage)
        self._lifeline.start()
        self.reporter.stage_started(name, why)
        self._running[name] = job
        threading.Thread(target=self._execute, args=(job,), name=f"cairn-stage-{name}", daemon=True).start()
        return True

    def _prepare_outs(self, stage: Stage) -> None:
        for out in stage.outs:
            path = self.ws.abs(out.path)
            if out.persist:
                self._unlink_from_cache(path)
            elif path.exists() or path.is_symlink():
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)

    def _unlink_from_cache(self, path: Path) -> None:
        """Give a persisted output private writable copies of its files: with hardlink or
        symlink cache types the command would otherwise append to (corrupt) cache objects."""
        if path.is_symlink() or path.is_file():
            files = [path]
        elif path.is_dir():
            files = [f for f in path.rglob("*") if f.is_file() or f.is_symlink()]
        else:
            return
        self.ws.tmp.mkdir(parents=True, exist_ok=True)
        tmp = str(self.ws.tmp / f"persist.{os.getpid()}")
        for f in files:
            if f.exists() and is_linked(str(f)):
                make_writable_copy(str(f), tmp)

    def _execute(self, job: _Job) -> None:
        """Worker thread: run the stage's commands one after the other."""
        import subprocess

        stage = job.stage
        cwd = self.root / stage.wdir if stage.wdir else self.root
        env = {**os.environ, "CAIRN_STAGE": stage.name, "CAIRN_ROOT": str(self.root)}
        try:
            for cmd in stage.cmd:
                proc = subprocess.Popen(
                    cmd,
                    shell=True,
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: Ctrl-C stops the whole tree
                )
                job.proc = proc
                self._lifeline.register(proc.pid)  # its process group, stopped should cairn be killed
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode(errors="replace").rstrip("\n")
                    job.tail.append(line)
                    self.reporter.stage_output(stage.name, line)
                _wait_unreaped(proc)
                self._lifeline.unregister(proc.pid)  # before the reap: until then its id cannot be reused
                job.code = proc.wait()
                if job.code != 0:
                    what = (
                        "command not found"
                        if job.code == 127
                        else f"killed by signal {-job.code}"
                        if job.code < 0
                        else f"exit code {job.code}"
                    )
                    job.error = f"stage {stage.name!r} failed ({what}): {cmd}"
                    break
        except OSError as e:
            job.code, job.error = None, f"stage {stage.name!r} could not start: {e}"
        finally:
            self._done.put(stage.name)

    def _finish(self, job: _Job, result: ReproResult) -> None:
        stage = job.stage
        if not job.error:
            missing = [o.path for o in stage.outs if not os.path.lexists(self.ws.abs(o.path))]
            if missing:
                job.error = f"stage {stage.name!r} did not produce its declared output(s): {', '.join(missing)}"
        if job.error:
            tail = "\n".join(f"    {line}" for line in list(job.tail)[-10:])
            result.failed[stage.name] = job.error + (f"\n  last lines of its output:\n{tail}" if tail else "")
            result.exit_codes[stage.name] = job.code
            self.reporter.stage_finished(stage.name, "failed", job.error)
            return
        outs = self._commit_outs(stage)
        self._record(stage, job.deps, job.params, outs, self._environment())
        result.ran.append(stage.name)
        self.reporter.stage_finished(stage.name, "ran")

    def _commit_outs(self, stage: Stage) -> list[PathState]:
        from cairn.workspace.add import commit
        from cairn.workspace.gitignore import ignore_in_git

        states = []
        for out in stage.outs:
            if out.cache:
                snap, _ = commit(self.ws, out.path)
                states.append(PathState(out.path, snap.kind, snap.oid, snap.size, snap.files))
                ignore_in_git(self.root, out.path)
            else:
                # not cached for the workspace (git keeps it), but the run-cache must be able to
                # restore it: store a copy, never a link (the file stays an ordinary file)
                snap, _ = commit(self.ws, out.path, kind="copy")
                states.append(PathState(out.path, snap.kind, snap.oid, snap.size, snap.files))
        return states

    def _environment(self) -> str | None:
        if self._env_oid is None and self.env is not None:
            self._env_oid = self.env.record()
        return self._env_oid

    def _record(
        self, stage: Stage, deps: list[PathState], params_now: dict, outs: list[PathState], env: str | None
    ) -> None:
        self.locks[stage.name] = StageLock(list(stage.cmd), deps, params_now, outs, env)
        lock_mod.write(self.root, self.locks, self.graph.order())
        if not stage.always_changed:
            from cairn.pipelines.runcache import key

            self.runcache.put(key(stage.cmd, deps, params_now), outs, env)

    def _restore(self, stage: Stage, k: str, deps: list[PathState], params_now: dict) -> bool:
        from cairn.pipelines.runcache import key
        from cairn.workspace.gitignore import ignore_in_git

        outs = self.runcache.get(k)
        recorded = self.locks.get(stage.name)
        env = self.runcache.env_of(k) if outs is not None else None  # where the outputs were made
        if outs is None and recorded is not None and key(recorded.cmd, recorded.deps, recorded.params) == k:
            env = recorded.env
            # the run cairn.lock records has these very inputs: its outputs are as good as a
            # run-cache entry (a fresh clone has no run-cache, but `repro --pull` fetched them)
            outs = recorded.outs
        if outs is None or {o.path for o in outs} != {o.path for o in stage.outs}:
            return False
        if stage.env_strict and (env is None or env != self._environment()):
            return False  # outputs made in another environment do not count for this stage
        if not all(self.ws.store.exists(o.oid) for o in outs):
            return False
        versions = [(o.path, Pointer(o.path.rpartition("/")[2], o.kind, o.oid, o.size, o.files)) for o in outs]
        try:
            from cairn.workspace.checkout import checkout_versions  # only restores need it

            checkout_versions(self.ws, versions, force=True)
        except CairnError:  # an incomplete cache entry: fall back to running the stage
            return False
        for o in stage.outs:
            if o.cache:  # `cache: false` outputs (metrics, plots) belong in git, as after a real run
                ignore_in_git(self.root, o.path)
        self._record(stage, deps, params_now, outs, env)
        return True

    def _stop_all(self) -> list[str]:
        import subprocess

        stopped = []
        for name, job in list(self._running.items()):
            if job.proc is not None and job.proc.poll() is None:
                try:
                    os.killpg(job.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            stopped.append(name)
        for job in self._running.values():
            if job.proc is not None:
                try:
                    job.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(job.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    job.proc.wait()
                self._lifeline.unregister(job.proc.pid)
        return stopped


def _wait_unreaped(proc: subprocess.Popen) -> None:
    """Wait until `proc` has exited, leaving it a zombie (its pid, and so its process group id,
    stays taken until `proc.wait()` reaps it)."""
    if not hasattr(os, "waitid"):
        return  # proc.wait() alone: the id is unregistered a moment after it is free
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:  # already reaped (by _stop_all after Ctrl-C)
        pass


def tracked_paths(ws: Workspace) -> set[str]:
    """Paths tracked with `cairn add` (outputs must not overlap them)."""
    from cairn.workspace.context import data_rel

    out = set()
    for pointer_rel in ws.pointer_files():
        out.add(data_rel(pointer_rel, ws.load_pointer(pointer_rel)))
    return out
