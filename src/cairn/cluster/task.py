"""What one queued experiment does on a cluster node (the body of its Ray task). It imports no
Ray and no cairn internals: it drives `git` and the node's own `cairn` as programs, as a user on
that machine would, so that the run is recorded by exactly the code a local run uses.

On the node: fetch the experiment's baseline (pushed by the driver under refs/cairn/queue/NAME)
into a per-node git mirror, clone it into a scratch folder whose cairn cache is the per-node
cache, pull the data the pipeline needs from the cairn remote, `cairn exp run`, then `cairn exp
push` the outputs (cairn remote) and the result commit (git remote, refs/cairn/exps/...). The
task is a generator: it yields its log as it grows (the driver writes it to the queue's log) and
finally the result."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path
from typing import Any

CACHE_ENV = "CAIRN_CLUSTER_CACHE"  # where a node keeps its per-repository caches
_CHUNK_EVERY = 0.2  # s between log chunks sent back: `queue logs --follow` stays < 1 s behind
_STOP_GRACE = 10.0  # s a stopped run gets to stop its stages before it is killed


def node_cache(git_url: str) -> Path:
    """This node's cache for one repository (its git mirror, its cairn objects, scratch runs),
    kept between tasks so a second experiment of the same project moves only what is new.
    Part of the user's cache (`cairn cache` on the node shows and prunes it: cairn.usercache)."""
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    base = os.environ.get(CACHE_ENV) or os.path.join(user, "cairn", "cluster")
    return Path(base) / sha256(git_url.encode()).hexdigest()[:16]


@contextmanager
def _held(cache: Path, git_url: str = "") -> Iterator[None]:
    """Hold the project's node cache for a run, as cairn.usercache.hold does for a source
    repository (written out here: this module imports no cairn code): a shared flock on
    `<cache>.used`, whose mtime is its last use, so `cairn cache prune` leaves it while a run uses it."""
    stamp = cache.with_name(cache.name + ".used")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(stamp, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            if os.stat(stamp).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # pruned while we waited: take the new stamp
    try:
        if git_url and os.fstat(fd).st_size == 0:  # for `cairn cache info`, credentials left out
            label = re.sub(r"^(https?://)[^/@]*@", r"\1", git_url, flags=re.I)  # as usercache.hold
            os.write(fd, re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:]*):[^/@]*@", r"\1@", label).encode())
        os.utime(fd)
        yield
    finally:
        try:
            os.utime(fd)  # used until now: a run can take hours
        finally:
            os.close(fd)


class StepFailed(Exception):
    """A step before or after the pipeline failed (fetching, pulling data, pushing results)."""


class Stopped(Exception):
    """The run was told to stop (a runner's run: cancelled, or its driver gone)."""


Stop = Callable[[], bool]  # polled while a step runs: True stops it


def run_experiment(spec: dict[str, Any], stopped: Stop | None = None) -> Iterator[dict[str, Any]]:
    """Yields {"log": text} chunks, then one {"result": {...}}: status, exit_code, commit, ref,
    metrics, error, node. Raising is left to Ray's errors (a lost node, a cancel); a plain
    task is stopped by Ray's KeyboardInterrupt, a runner's run by `stopped`."""
    host = socket.gethostname()
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")  # Ray sets it to the task's GPUs; stages inherit it
    shown = f", CUDA_VISIBLE_DEVICES={gpus}" if gpus else ""
    yield {"log": f"[cairn] {spec['name']} on node {host} (pid {os.getpid()}{shown})\n"}
    cache = node_cache(spec["git_url"])
    result: dict[str, Any] = {"node": host, "status": "failed", "exit_code": None, "commit": None, "ref": None}
    with _held(cache, spec["git_url"]), _slot(cache) as work:
        try:
            yield from _materialise(spec, cache, work, stopped)
            result.update((yield from _run(spec, work, host, stopped)))
        except StepFailed as e:
            result["error"] = str(e)
    yield {"result": result}


def _run(spec: dict[str, Any], work: Path, host: str, stopped: Stop | None) -> Iterator[dict[str, Any]]:
    """The cairn steps in `work`; returns what the result reports of the recorded experiment."""
    run = ["exp", "run", "-n", spec["name"]]
    for label in spec["overrides"]:
        run += ["-S", label]
    show_file = work / ".cairn" / "tmp" / "cluster-show.json"
    steps = [
        *([("pulling the data from the cairn remote", ["pull"], True)] if spec.get("pull", True) else []),
        ("running the pipeline", run + list(spec["targets"]), False),  # a failed run is recorded too
        ("pushing the results", ["exp", "push", "origin", spec["name"]], True),
        ("reading the result", ["exp", "show", "-A", "--json", "--out", str(show_file)], True),
    ]
    proc = _cairn_process(work.parent)
    request = {"cwd": str(work), "env": {**os.environ, "NO_COLOR": "1"}, "steps": [[a, m] for _, a, m in steps]}
    try:
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(request) + "\n").encode())
        proc.stdin.close()
    except OSError:
        pass  # it died before its run (a broken install): its output says why
    code = yield from _follow(proc, stopped)
    if code != 0:
        step = _failed_step(work)
        what = steps[step][0] if step is not None else "running cairn"
        raise StepFailed(f"{what} failed on node {host} (exit code {code})")
    row = next((r for r in json.loads(show_file.read_text()) if r.get("name") == spec["name"]), None)
    if row is None:  # the pipeline could not even start (a broken cairn.yaml): nothing recorded
        raise StepFailed(f"`cairn exp run` on node {host} recorded no experiment")
    ref = f"refs/cairn/exps/{spec['baseline']}/{spec['name']}"
    commit = _git_out(work, "rev-parse", ref)
    _git_out(work, "update-ref", "-d", ref)  # pushed; the folder serves the next run clean
    return {
        "status": row["status"],
        "exit_code": row.get("exit_code"),
        "commit": commit,
        "ref": ref,
        "metrics": {k: v for k, v in row.items() if k.startswith("metrics.")},
    }


@contextmanager
def _slot(cache: Path) -> Iterator[Path]:
    """A run folder of this node kept between runs (its cairn state stays warm: the indexes and
    databases a fresh clone creates cost ~0.25 s a run), held with a lock while a run uses it;
    as many as runs at once on the node."""
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for i in itertools.count():
        lock = open(runs / f"{i}.lock", "w")  # noqa: SIM115 (held until the run ends)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield runs / str(i)
        finally:
            lock.close()
        return


def _materialise(spec: dict[str, Any], cache: Path, work: Path, stopped: Stop | None) -> Iterator[dict[str, Any]]:
    """The baseline checked out in `work`, its cache the node's, the remote to pull from set."""
    t0 = time.perf_counter()
    yield from _checkout(spec, cache, work, stopped)
    yield {"log": f"[cairn] baseline checked out in {time.perf_counter() - t0:.2f} s\n"}


def _checkout(spec: dict[str, Any], cache: Path, work: Path, stopped: Stop | None) -> Iterator[dict[str, Any]]:
    mirror = cache / "git"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "git.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch into the mirror at a time on this node
        if not (mirror / "HEAD").exists():
            yield from _step(
                ["git", "init", "-q", "--bare", str(mirror)], cache, "creating the node's git mirror", stopped
            )
        ref = spec["queue_ref"]
        have = ["git", "-C", str(mirror), "cat-file", "-e", spec["baseline"] + "^{commit}"]
        if subprocess.run(have, capture_output=True).returncode != 0:  # an earlier run brought it
            yield from _step(
                ["git", "-C", str(mirror), "fetch", "-q", "--no-tags", spec["git_url"], f"+{ref}:{ref}"],
                cache,
                f"fetching {ref} from the git remote {spec['git_url']} (can this node reach it?)",
                stopped,
            )
    git = ["git", "-C", str(work)]
    checkout = [*git, "checkout", "-q", "-f", "--detach", spec["baseline"]]
    # an earlier run's folder: back to the baseline, with nothing left of that run but cairn's
    # state (.cairn/tmp, whose indexes check what they hold against the files)
    reused = (work / ".git" / "HEAD").exists() and all(
        subprocess.run(cmd, capture_output=True).returncode == 0
        for cmd in (checkout, [*git, "clean", "-q", "-f", "-d", "-x", "-e", "/.cairn/"])
    )
    if not reused:  # new, or left broken by a run killed mid-way
        shutil.rmtree(work, ignore_errors=True)
        work.parent.mkdir(parents=True, exist_ok=True)
        # a clone borrowing the mirror's objects (as `git clone --shared`): nothing is copied
        yield from _step(["git", "init", "-q", str(work)], cache, "creating the run's folder", stopped)
        (work / ".git" / "objects" / "info" / "alternates").write_text(str(mirror / "objects") + "\n")
    _write_git_config(work, spec)
    if not reused:
        yield from _step(checkout, cache, "checking out the baseline", stopped)
    # not committed (config.local.toml is ignored): the node's cache, the driver's data remote
    local = [f"[cache]\ndir = {json.dumps(str(cache / 'objects'))}\n"]
    if spec.get("remote_url"):
        name = spec["remote_name"]
        local.append(
            f"[core]\nremote = {json.dumps(name)}\n\n[remote.{name}]\nurl = {json.dumps(spec['remote_url'])}\n"
        )
    (work / ".cairn" / "tmp").mkdir(parents=True, exist_ok=True)
    (work / ".cairn" / "config.local.toml").write_text("\n".join(local))


def _write_git_config(work: Path, spec: dict[str, Any]) -> None:
    """origin, and the driver's user as the committer (the result commit reads as a local
    run's), written whole each run (a reused folder may have served another driver): three
    `git config` processes fewer per run."""
    config = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
    config += f'[remote "origin"]\n\turl = {_quoted(spec["git_url"])}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
    user = [(k, spec.get(f"user_{k}")) for k in ("name", "email")]
    if any(v for _, v in user):
        config += "[user]\n" + "".join(f"\t{k} = {_quoted(v)}\n" for k, v in user if v)
    tmp = work / ".git" / "config.cairn-tmp"
    tmp.write_text(config)
    os.replace(tmp, work / ".git" / "config")


def _quoted(value: str) -> str:
    """A value as git's config file reads it back unchanged."""
    if "\n" in value:
        raise StepFailed(f"a git setting holds a line break: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The cairn steps of a run, in one interpreter (each a separate `cairn` would start Python and
# import cairn again, ~0.3 s apiece), started before the run asks for it (_cairn_process): the
# CLI's own entry point, as a user would type them. The step about to run is written to
# .cairn/tmp/cluster-step so a failure can be named. `--out` of `exp show` is this program's:
# that step's output goes to the file, not into the log.
_STEPS = """
import contextlib, json, os, sys, time
from cairn.cli.main import main
request = json.loads(sys.stdin.readline() or 'null')
if request is None:  # its Ray worker went away before giving it a run
    sys.exit(0)
os.chdir(request['cwd'])
os.environ.clear()
os.environ.update(request['env'])  # this run's (CUDA_VISIBLE_DEVICES is per task)
for i, (argv, must) in enumerate(request['steps']):
    t0 = time.perf_counter()
    with open(os.path.join('.cairn', 'tmp', 'cluster-step'), 'w') as f:
        f.write(str(i))
    out = None
    if '--out' in argv:
        at = argv.index('--out')
        out, argv = open(argv[at + 1], 'w'), argv[:at] + argv[at + 2:]
    try:
        with contextlib.redirect_stdout(out) if out else contextlib.nullcontext():
            main(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        if out:
            out.close()
    print(f"[cairn] cairn {' '.join(argv[:2])}: {time.perf_counter() - t0:.2f} s", flush=True)
    if code and (must or code == 130):  # 130: stopped (SIGTERM), nothing more to do
        sys.exit(code)
"""


def _failed_step(work: Path) -> int | None:
    try:
        return int((work / ".cairn" / "tmp" / "cluster-step").read_text())
    except (OSError, ValueError):
        return None


def _step(cmd: list[str], cwd: Path, what: str, stopped: Stop | None) -> Iterator[dict[str, Any]]:
    code = yield from _follow(_popen(cmd, cwd), stopped)
    if code != 0:
        raise StepFailed(f"{what} failed on node {socket.gethostname()} (exit code {code})")


_spare: subprocess.Popen | None = None  # the next run's cairn process, importing cairn meanwhile
_spare_lock = threading.Lock()  # a runner runs several experiments at once, one thread each


def _cairn_process(cwd: Path) -> subprocess.Popen:
    """A process running _STEPS that has imported cairn (or is importing it), waiting on its
    stdin for a run. Ray keeps its worker processes between tasks: each task takes the one
    the task before started and starts the next one's, so a run does not wait for Python's
    start and cairn's import (~0.1-0.3 s)."""
    global _spare
    with _spare_lock:
        proc, _spare = _spare, None
        if proc is None or proc.poll() is not None:
            proc = _spawn_cairn(cwd)
        _spare = _spawn_cairn(cwd)
    return proc


def _spawn_cairn(cwd: Path) -> subprocess.Popen:
    # -P: no '' (its folder) on sys.path, which would make the environment's cached record
    # (keyed by sys.path's folders) miss in every new folder: ~0.25 s a run
    return _popen([sys.executable, "-P", "-c", _STEPS], cwd, stdin=subprocess.PIPE)


def _popen(cmd: list[str], cwd: Path, stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=stdin,
        start_new_session=True,  # its own group: the stop reaches it and what it started
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=_die_with_parent,
    )


def _follow(proc: subprocess.Popen, stopped: Stop | None = None) -> Iterator[dict[str, Any]]:
    """Yield `proc`'s output as it comes; returns its exit code. Stopped (Ray's cancel raises
    KeyboardInterrupt here in a task; a runner's `stopped` says so), it is stopped as Ctrl-C
    would stop it (cairn stops its stages and records nothing half-done), then killed after a
    grace period."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    last = time.monotonic()
    try:
        while True:
            if stopped is not None and stopped():
                if pending:  # what it printed in the last moments before the stop: kept in the log
                    yield {"log": pending.decode(errors="replace")}
                raise Stopped()
            ready, _, _ = select.select([fd], [], [], _CHUNK_EVERY)
            data = os.read(fd, 65536) if ready else b""
            pending += data
            now = time.monotonic()
            if pending and (not data or now - last >= _CHUNK_EVERY):
                yield {"log": pending.decode(errors="replace")}
                pending, last = b"", now
            if ready and not data:  # end of output
                break
        return proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        proc.stdout.close()


def _parent_death_signal():
    """prctl(PR_SET_PDEATHSIG, SIGTERM), resolved before any fork (the child may only call it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


# When Ray kills the task's worker or the runner (its driver died, its node is being drained),
# the run must not live on as an orphan that pushes a result nobody waits for: it gets SIGTERM
# and stops. The signal follows the thread that started the process: a runner's threads are
# Ray's pool of the actor, which lives as long as the actor does.
_die_with_parent = _parent_death_signal()


def _stop(proc: subprocess.Popen) -> None:
    # SIGTERM, not SIGINT: a Ray worker ignores SIGINT and its children inherit that; cairn
    # stops on SIGTERM as on Ctrl-C (its stages stopped, nothing half-done recorded)
    for sig, wait in ((signal.SIGTERM, _STOP_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _git_out(work: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(work), *args], capture_output=True, text=True, check=True).stdout.strip()
