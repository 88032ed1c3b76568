"""Running experiments: in the workspace, or queued, each queued one in its own temporary
workspace (the baseline's files exported from git, data linked from the shared cache) so the
user's workspace is never touched. Queued experiments run as child processes, `jobs` at a time,
each in its own session with its own log: forks of the runner doing what `cairn exp run-queued
NAME` does, or that program itself where forking is not safe (see run_queue)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pygit2

from cairn.errors import CairnError, StageFailedError, StoppedError, UserInputError
from cairn.experiments import names as names_mod
from cairn.experiments import overrides as ovr
from cairn.experiments.index import ExpIndex
from cairn.experiments.queue import Entry, Queue
from cairn.experiments.record import (
    ExpInfo,
    environment,
    metric_files,
    now,
    params_files,
    read_metrics,
    read_params,
    ref_name,
)
from cairn.index import pointer as ptr
from cairn.index.pointer import Pointer
from cairn.index.statcache import StatCache
from cairn.pipelines import dag
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.runner import EnvHook, Reporter, ReproFailedError, ReproOptions, Runner, tracked_paths
from cairn.pipelines.spec import Pipeline, load_pipeline
from cairn.processes import running
from cairn.scm.commits import commit_files, export_tree, head_commit, tree_paths, workspace_changes
from cairn.scm.git import Git
from cairn.track import run_dir
from cairn.workspace.checkout import checkout, checkout_versions
from cairn.workspace.context import Workspace


@dataclass
class ExpContext:
    root: Path
    dot: Path
    ws: Workspace
    git: Git
    env: EnvHook | None = None  # records each stage run's environment (repo/environment.py)

    @property
    def state(self) -> Path:
        return self.dot / "state"

    def queue(self) -> Queue:
        return Queue(self.state / "queue.db")

    def index(self) -> ExpIndex:
        return ExpIndex(self.state / "exps.db", self.git)

    def logs(self) -> Path:
        return self.state / "queue" / "logs"


def taken_names(ctx: ExpContext) -> set[str]:
    from cairn.experiments.record import EXP_REFS
    from cairn.scm.commits import refs_under

    names = {ref.rsplit("/", 1)[1] for ref, _ in refs_under(ctx.git, EXP_REFS)}
    q = ctx.queue()
    try:
        return names | q.names()
    finally:
        q.close()


def _pick_name(ctx: ExpContext, name: str | None) -> str:
    taken = taken_names(ctx)
    if name is None:
        return names_mod.generate(taken)
    names_mod.check(name)
    if name in taken:
        raise UserInputError(
            f"an experiment named {name!r} already exists", "choose another name, or `cairn exp remove` the old one"
        )
    return name


def _pipeline(root: Path, targets: list[str], where: str | None = None) -> Pipeline:
    """The pipeline, with every target checked (an unknown one fails with a suggestion)."""
    pipeline = load_pipeline(root)
    if pipeline is None:
        raise UserInputError(
            f"there is no cairn.yaml in {where or root}; an experiment runs the pipeline",
            "define stages first (`cairn stage add ...`)",
        )
    pipeline.expand(targets)  # a foreach / matrix name stands for its stages
    return pipeline


def _graph(root: Path, ws: Workspace, targets: list[str]):
    return dag.build(_pipeline(root, targets), tracked_paths(ws))


class _Tee:
    """Passes stage events on and keeps the output as the experiment's log."""

    def __init__(self, inner: Reporter | None) -> None:
        self.inner = inner
        self.lines: list[str] = []

    def stage_started(self, name: str, why: list[str]) -> None:
        self.lines.append(f"Running stage {name!r} ({'; '.join(why)})")
        if self.inner:
            self.inner.stage_started(name, why)

    def stage_output(self, name: str, line: str) -> None:
        self.lines.append(f"[{name}] {line}")
        if self.inner:
            self.inner.stage_output(name, line)

    def stage_finished(self, name: str, outcome: str, detail: str = "") -> None:
        self.lines.append(f"Stage {name!r}: {outcome}" + (f" ({detail})" if detail else ""))
        if self.inner:
            self.inner.stage_finished(name, outcome, detail)


def _run_pipeline(
    root: Path, ws: Workspace, targets: list[str], jobs: int, reporter, record_errors: bool, env: EnvHook | None = None
) -> tuple[str, int | None, str | None]:
    """(status, exit code, error) of a repro in `root`; stopping with Ctrl-C propagates. Other
    errors (a broken cairn.yaml, a missing dependency) are raised for a run the user watches,
    and recorded as a failure with `record_errors` (a queued run: the queue goes on)."""
    try:
        Runner(ws, _graph(root, ws, targets), reporter, env).run(ReproOptions(targets=targets, jobs=jobs))
        return "success", 0, None
    except StoppedError:
        raise
    except StageFailedError as e:
        return "failed", _stage_exit_code(e), e.message
    except CairnError as e:
        if not record_errors:
            raise
        return "failed", e.exit_code, e.message


def _stage_exit_code(e: StageFailedError) -> int | None:
    """The exit code of the failed stage's command (the first failed stage's, when several
    failed): negative N when a signal N killed it, 0 when its commands succeeded but an output
    is missing, None when it could not start. 1 when the error does not say."""
    codes = e.exit_codes if isinstance(e, ReproFailedError) else {}
    return next(iter(codes.values())) if codes else 1


def _info(
    ctx_root: Path, ws: Workspace, name: str, base: pygit2.Commit, status: str, code, error, overrides, dirty, log: str
) -> ExpInfo:
    pipeline = None
    try:
        pipeline = load_pipeline(ctx_root)
    except CairnError:
        pass
    log_oid = ws.store.add_bytes(log.encode()) if log else None
    return ExpInfo(
        name=name,
        baseline=str(base.id),
        status=status,
        created=now(),
        overrides=[o.label() for o in overrides],
        # a file only an override names (`-S +conf/new.yaml:a=1`) is a param of this run too
        params=read_params(ctx_root, pipeline, {o.file for o in overrides}),
        metrics=read_metrics(ctx_root, metric_files(pipeline)),
        env=environment(str(base.id), dirty),
        exit_code=code,
        error=error,
        log=log_oid,
    )


def run_in_workspace(
    ctx: ExpContext, overrides: list[ovr.Override], name: str | None, targets: list[str], jobs: int, reporter=None
) -> ExpInfo:
    """`cairn exp run`: apply overrides to the workspace's params, run, record the experiment.
    The workspace keeps the results, as after `cairn repro`."""
    base = head_commit(ctx.git)
    name = _pick_name(ctx, name)
    _pipeline(ctx.root, targets)  # bad input is refused before the workspace is changed
    dirty = workspace_dirty(ctx, overrides)
    ovr.apply(ctx.root, overrides)
    tee = _Tee(reporter)
    status, code, error = _run_pipeline(ctx.root, ctx.ws, targets, jobs, tee, record_errors=False, env=ctx.env)
    info = _info(ctx.root, ctx.ws, name, base, status, code, error, overrides, dirty, "\n".join(tee.lines))
    info.ref = ref_name(str(base.id), name)
    paths = _workspace_paths(ctx, overrides)
    info.commit = commit_files(ctx.git, base, ctx.root, paths, info.ref, info.message())
    return info


def _workspace_paths(ctx: ExpContext, overrides: list[ovr.Override]) -> list[str]:
    """What an experiment run in the workspace records: every change git sees in the files it
    tracks (or has staged), and of the untracked files only the ones the run or cairn wrote
    (params, cairn.lock, uncached outputs, pointers and their .gitignore). Other untracked
    files stay out, as in DVC: `git add` them to have them recorded."""
    exact, folders = _recorded_paths(ctx.root, overrides)
    flags = pygit2.enums.FileStatus
    changed = flags.WT_NEW | flags.WT_MODIFIED | flags.WT_DELETED | flags.WT_TYPECHANGE | flags.WT_RENAMED
    changed |= flags.INDEX_NEW | flags.INDEX_MODIFIED | flags.INDEX_DELETED | flags.INDEX_RENAMED
    out = []
    for path, status in ctx.git.repo.status().items():
        if not status & changed:
            continue
        if status & flags.WT_NEW and not (  # untracked: git's index does not have it
            path in exact
            or path.startswith(folders)
            or path.endswith(ptr.SUFFIX)
            or (path.rpartition("/")[2] == ".gitignore" and _has_pointer((ctx.root / path).parent))
        ):
            continue
        out.append(path)
    return sorted(out)


def workspace_dirty(ctx: ExpContext, overrides: list[ovr.Override]) -> bool:
    """Whether the workspace has changes besides the files the pipeline writes or an experiment
    sets (params files, cairn.lock, outputs, the logger's folder): `env.dirty`. A run after another left that one's
    params and metrics in the workspace, as `exp run` does, is not dirty for it; an edited
    script or an untracked note is."""
    exact, folders = _recorded_paths(ctx.root, overrides)
    # the training logger's folder (cairn.track) holds a declared output: all of it is the run's
    logger = run_dir().strip("/") + "/"
    if any(p.startswith(logger) for p in (*exact, *folders)):
        folders += (logger,)
    return any(p not in exact and not p.startswith(folders) for p in workspace_changes(ctx.git))


def _has_pointer(folder: Path) -> bool:
    return any(folder.glob(f"*{ptr.SUFFIX}"))


def _recorded_paths(root: Path, overrides: list[ovr.Override]) -> tuple[set[str], tuple[str, ...]]:
    """(files, folders as `path/` prefixes) an experiment records besides what git tracks:
    cairn.lock, params files, the pipeline's uncached outputs, the .gitignore beside each cached
    output."""
    try:
        pipeline = load_pipeline(root)
    except CairnError:
        pipeline = None
    exact = {lock_mod.LOCK_FILE} | {o.file for o in overrides} | params_files(root, pipeline)
    folders: list[str] = []
    if pipeline is not None:
        for stage in pipeline.stages.values():
            for out in stage.outs:
                if out.cache:
                    parent = out.path.rpartition("/")[0]
                    exact.add(f"{parent}/.gitignore" if parent else ".gitignore")
                elif (root / out.path).is_dir():
                    folders.append(out.path + "/")
                else:
                    exact.add(out.path)
    return exact, tuple(folders)


def enqueue(
    ctx: ExpContext,
    combos: list[list[ovr.Override]],
    name: str | None,
    targets: list[str],
    resources: dict[str, float] | None = None,
) -> list[Entry]:
    """Queue one experiment per combination; `resources` (cairn.cluster.resources) is what each
    asks of a cluster node, kept with the entry for `queue start --executor ray`."""
    base = head_commit(ctx.git)
    # check every override against the baseline's params now, not when the queue runs
    probe = ctx.dot / "tmp" / f"probe-{os.getpid()}"
    try:
        export_tree(ctx.git, base, probe)
        _pipeline(probe, targets, f"commit {str(base.id)[:7]} (HEAD)")
        for combo in combos:
            ovr.apply(probe, combo)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    q = ctx.queue()
    try:
        taken = taken_names(ctx)
        out = []
        for i, combo in enumerate(combos):
            n = (name if len(combos) == 1 else f"{name}-{i + 1}") if name else names_mod.generate(taken)
            names_mod.check(n)
            if n in taken:
                raise UserInputError(
                    f"an experiment named {n!r} already exists",
                    "choose another name, or `cairn exp remove` the old one",
                )
            taken.add(n)
            out.append(q.add(n, str(base.id), [o.label() for o in combo], targets, resources))
        return out
    finally:
        q.close()


def run_queued(ctx: ExpContext, name: str, reporter=None) -> ExpInfo:
    """Inside the child process: run queued experiment `name` in a temporary workspace."""
    q = ctx.queue()
    entry = q.get(name)
    if entry is None:
        raise UserInputError(f"no queued experiment named {name!r}", "see `cairn queue status`")
    work = ctx.dot / "tmp" / "exps" / name
    q.set_pid(name, os.getpid(), str(work))
    try:
        base = ctx.git.repo[entry.baseline].peel(pygit2.Commit)
        overrides = [o for spec in entry.overrides for o in ovr.parse([spec])[0]]
        ws = _prepare_workspace(ctx, base, work)
        ovr.apply(work, overrides)
        tee = _Tee(reporter)
        stopped: StoppedError | None = None
        try:
            status, code, error = _run_pipeline(work, ws, entry.targets, 1, tee, record_errors=True, env=ctx.env)
        except StoppedError as e:
            # killed (`queue kill`, a stopping worker): the stages are stopped and nothing of
            # theirs was locked; still record the run, its params and its log, as killed
            stopped = e
            status, code, error = "killed", e.exit_code, e.message
        info = _info(work, ws, name, base, status, code, error, overrides, False, "\n".join(tee.lines))
        info.ref = ref_name(str(base.id), name)
        paths = _changed_paths(work, base, overrides)
        info.commit = commit_files(ctx.git, base, work, paths, info.ref, info.message())
        q.finish(name, status, code, error)
        if stopped is not None:
            raise stopped
        return info
    except BaseException as e:
        q.finish(name, "killed" if isinstance(e, (KeyboardInterrupt, StoppedError)) else "failed", None, str(e))
        raise
    finally:
        q.close()
        shutil.rmtree(work, ignore_errors=True)


def _prepare_workspace(ctx: ExpContext, base: pygit2.Commit, work: Path) -> Workspace:
    """The baseline's files from git, plus data and recorded outputs linked from the shared cache."""
    shutil.rmtree(work, ignore_errors=True)
    export_tree(ctx.git, base, work)
    ws = Workspace(
        work,
        ctx.ws.store,
        StatCache(work / ".cairn" / "state" / "stat.db"),
        ["reflink", "hardlink", "copy"],
        ctx.ws.ignore,
        ctx.ws.progress,
    )
    (work / ".cairn" / "tmp").mkdir(parents=True, exist_ok=True)
    pointers = sorted(ws.pointer_files())
    if pointers:
        checkout(ws, pointers, force=True)
    versions = [
        (o.path, Pointer(o.path.rpartition("/")[2], o.kind, o.oid, o.size, o.files))
        for entry in lock_mod.read(work).values()
        for o in entry.outs
        if ws.store.exists(o.oid)
    ]
    if versions:
        checkout_versions(ws, versions, force=True)
    return ws


def _changed_paths(work: Path, base: pygit2.Commit, overrides: list[ovr.Override]) -> list[str]:
    """What a queued run may have changed: files git tracks, and what the run or cairn wrote
    (see _recorded_paths)."""
    exact, folders = _recorded_paths(work, overrides)
    paths = set(tree_paths(base)) | exact
    for folder in folders:
        # git commits files, not folders: an uncached output folder (plots, a cairn.track
        # folder) goes in file by file
        paths |= {f.relative_to(work).as_posix() for f in (work / folder).rglob("*") if f.is_file()}
    return sorted(p for p in paths if not p.startswith(".cairn/"))


# -- running the queue ---------------------------------------------------------------------------
RunChild = Callable[[str], int]  # runs queued experiment NAME in this process; its exit code


def run_queue(
    ctx: ExpContext,
    jobs: int,
    child_cmd: Callable[[str], list[str]],
    should_stop: Callable[[], bool] = lambda: False,
    run_child: RunChild | None = None,
) -> dict[str, str]:
    """Run queued experiments as child processes, `jobs` at a time, until none is left (or
    `should_stop`). Returns name -> final status.

    Each child is `child_cmd(name)` started as a new program, or, given `run_child` and where
    it is safe (Linux, this process has one thread), a fork of this process calling
    `run_child(name)`: the same code without a new interpreter and its imports (~0.15 s of CPU
    per experiment). Either way it runs in its own session with its output in its log.

    No SQLite connection may be open in this process while it runs (the caller's included):
    a forked child must not inherit SQLite's state of a database it opens again (SQLite would
    take the parent's locks for its own), so the queue is opened for each step and closed."""
    logs = ctx.logs()
    logs.mkdir(parents=True, exist_ok=True)
    running: dict[str, _Child] = {}
    results: dict[str, str] = {}
    with _opened(ctx) as q:
        remove_orphans(ctx, q)
    try:
        while True:
            while len(running) < jobs and not should_stop():
                with _opened(ctx) as q:
                    entry = q.claim(os.getpid())
                if entry is None:
                    break
                log = logs / f"{entry.name}.log"
                if run_child is not None and _can_fork():
                    proc: _Child = _fork(run_child, entry.name, log, ctx.root)
                else:
                    with open(log, "wb") as out:
                        proc = subprocess.Popen(
                            child_cmd(entry.name),
                            cwd=ctx.root,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            start_new_session=True,
                        )
                running[entry.name] = proc
                with _opened(ctx) as q:
                    q.set_pid(entry.name, proc.pid)
            if not running:
                break
            _wait_any([p.pid for p in running.values()], _POLL)
            ended = {name: code for name, proc in running.items() if (code := proc.poll()) is not None}
            if not ended:
                continue
            with _opened(ctx) as q:
                for name, code in ended.items():
                    del running[name]
                    # the child records its own outcome; this catches a child that died without doing so
                    died = f"its process was killed by signal {-code}" if code < 0 else None
                    q.finish(name, "success" if code == 0 else "failed", code, died)
                    final = q.get(name)
                    results[name] = final.status if final else ("success" if code == 0 else "failed")
                if any(code != 0 for code in ended.values()):
                    remove_orphans(ctx, q)  # a child that died (kill -9) left its workspace behind
    except KeyboardInterrupt:
        with _opened(ctx) as q:
            for name, proc in running.items():
                kill(proc.pid)
                q.finish(name, "killed", None, "stopped with Ctrl-C")
        raise
    return results


@contextmanager
def _opened(ctx: ExpContext) -> Iterator[Queue]:
    q = ctx.queue()
    try:
        yield q
    finally:
        q.close()


def remove_orphans(ctx: ExpContext, q: Queue) -> list[str]:
    """Delete the temporary workspaces (.cairn/tmp/exps/NAME) no live experiment uses: those of
    experiments whose process died without cleaning up (kill -9, a crash), marked failed by
    `q.reap()`, or whose queue entry is gone. A workspace stays while its entry is running or
    its process is alive (`queue kill` marks an entry killed before its process has recorded
    the run). Returns the names removed."""
    base = ctx.dot / "tmp" / "exps"
    try:
        names = [p.name for p in base.iterdir()]  # before reading the entries: a workspace
    except FileNotFoundError:  # made after this is one of an entry already running
        return []
    if not names:
        return []
    entries = {e.name: e for e in q.entries()}  # reaped: a dead process's entry is not running
    removed = []
    for name in names:
        entry = entries.get(name)
        if entry is not None and (entry.status == "running" or running(entry.pid)):
            continue
        shutil.rmtree(base / name, ignore_errors=True)
        removed.append(name)
    return removed


_POLL = 0.5  # longest wait between looks at `should_stop` while experiments run


class _Child(Protocol):
    pid: int

    def poll(self) -> int | None: ...


class _Forked:
    """A forked child, polled as subprocess.Popen is (negative N: killed by signal N)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its end is unknown
                self.returncode = 1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _can_fork() -> bool:
    """Forking without exec is safe only with no other thread (whose locks the child would
    inherit held; counted by the kernel, so threads of native libraries count too) and no
    SQLite database open (see run_queue; cairn's databases are `*.db` files)."""
    try:
        if not hasattr(os, "fork") or len(os.listdir("/proc/self/task")) != 1:
            return False
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").endswith((".db", ".db-wal", ".db-shm")):
                    return False
            except OSError:
                continue  # closed meanwhile (the listing's own descriptor)
        return True
    except OSError:  # no /proc (not Linux): start a new program instead
        return False


def _fork(run_child: RunChild, name: str, log: Path, cwd: Path) -> _Forked:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write the parent's buffered output again
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        for fd in (out, null, ready_r, ready_w):
            os.close(fd)
        raise
    if pid:
        for fd in (out, null, ready_w):
            os.close(fd)
        try:
            # as Popen(start_new_session=True) returns: once the child has its own session, so
            # that `kill` (of the group) can never miss it
            os.read(ready_r, 1)
        finally:
            os.close(ready_r)
        return _Forked(pid)
    code = 1
    try:  # the child: it ends in os._exit, never returning into the parent's loop
        os.setsid()
        os.close(ready_r)
        os.close(ready_w)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        os.chdir(cwd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = run_child(name)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except BaseException:
        code = 1  # run_child reports its own errors; nothing may escape into the parent's code
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            # no clean-up of what the parent holds (its queue connection, its repository):
            # those are the parent's
            os._exit(code & 0xFF)


def _wait_any(pids: list[int], timeout: float) -> None:
    """Return when one of the processes has ended, or after `timeout` s."""
    fds: list[int] = []
    try:
        for pid in pids:
            fds.append(os.pidfd_open(pid))
        select.select(fds, [], [], timeout)
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): look again shortly
        time.sleep(0.02)
    finally:
        for fd in fds:
            os.close(fd)


def kill(pid: int | None) -> bool:
    if not running(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)  # type: ignore[arg-type]
    except ProcessLookupError:
        return False
    return True
