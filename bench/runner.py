"""Running one workload: warm-up, then timed rounds alternating the tools (cairn, dvc, cairn, ...).

Every run gets its own empty run directory (its own HOME too, so no user-level cache or config
carries over), the workload's untimed setup, the timed command, the untimed check, and then the
directory is deleted (run directories holding many files only when the workload is done, see
_MANY_FILES). A tool whose setup, command or check fails stops for that workload and the
failure is reported; the other tool goes on. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import peers
from datasets import Datasets
from measure import Sample, run_timed
from s3server import BUCKET, DUMMY_CREDENTIALS, MotoServer
from tools import SetupError, Tool, tool_home_files
from workloads import RunCtx, Workload

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OK, NOT_IMPLEMENTED, NOT_INSTALLED, NOT_RUN, ERROR = "ok", "not implemented", "not installed", "not run", "error"
TOOLS = ("cairn", "dvc")
FLOOR = "floor"
# ext4 without a journal (the bench machine's root file system) skips inodes freed in the last
# 60 s (360 s while their inode-table block is dirty) when it allocates new ones, looking at each
# in turn: a tool creating 20k files right after the bench deleted the previous run's 40k paid
# for the bench's own clean-up (measured with perf: most of `add`'s time in recently_deleted()).
# So run directories holding many files are moved aside and deleted when the workload is done,
# and timed runs start only once the inodes freed then have aged past that window.
_MANY_FILES = 1_000
_INODE_AGE_S = 65.0


@dataclass
class Side:
    """One participant's outcome in one workload."""

    name: str
    status: str = OK
    message: str = ""
    samples: list[Sample] = field(default_factory=list)


@dataclass
class WorkloadResult:
    workload: Workload
    sides: dict[str, Side]
    runs: int
    warmup: bool


def tool_env(tool_bin: Path | None, home: Path) -> dict[str, str]:
    """A clean environment: nothing of the caller's venv, PYTHONPATH or AWS settings leaks in."""
    path = f"{tool_bin}:{SYSTEM_PATH}" if tool_bin else SYSTEM_PATH
    return {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        **DUMMY_CREDENTIALS,
    }


def rmtree(path: Path) -> None:
    """Delete a run directory, also where a tool made its cache folders read-only."""
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        for dirpath, _dirs, _files in os.walk(path):
            os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        shutil.rmtree(path)


def rmtree_parallel(path: Path, jobs: int | None = None) -> None:
    """rmtree of a big tree (a million-file run folder: data, cache, remote): its folders that
    hold no folder (a data folder, a cache fan-out) shared out over one `rm -rf` per core, then
    rmtree of what is left (files higher up, read-only folders)."""
    if not path.exists():
        return
    leaves, stack = [], [str(path)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                subs = [e.path for e in it if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        if subs:
            stack.extend(subs)
        else:
            leaves.append(folder)
    jobs = jobs or os.cpu_count() or 1
    running: list[subprocess.Popen] = []
    for i in range(0, len(leaves), 64):  # small shares: no rm waits long on another
        if len(running) >= jobs:
            running.pop(0).wait()
        running.append(subprocess.Popen(["rm", "-rf", "--", *leaves[i : i + 64]], stderr=subprocess.DEVNULL))
    for proc in running:
        proc.wait()
    rmtree(path)


def _tail(path: Path, lines: int = 3, width: int = 200) -> str:
    """The last non-empty lines a command wrote (setup commands' echo lines skipped), shortened."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    kept = [ln.strip() for ln in text if ln.strip() and not ln.startswith("$ (")][-lines:]
    return " | ".join(ln if len(ln) <= width else ln[: width - 3] + "..." for ln in kept)


class Runner:
    def __init__(
        self,
        *,
        work: Path,
        data: Datasets,
        scale: str,
        tools: dict[str, Tool | None],
        unavailable: dict[str, tuple[str, str]],
        s3: MotoServer | None,
        runs: int,
        warmup: bool,
        timeout_s: float,
        continued: frozenset[str] = frozenset(),
    ) -> None:
        self.work = work
        self.data = data
        self.scale = scale
        self.tools = tools
        self.unavailable = unavailable  # tool -> (status, message) where tools[name] is None
        self.s3 = s3
        self.runs = runs
        self.warmup = warmup
        self.timeout_s = timeout_s
        self.logs = work / "logs"
        self.runs_dir = work / "runs"
        self.trash = work / "trash"
        self.quiet_at = 0.0  # monotonic time after which no inode freed by the bench is "recent"
        # Sequences (Workload.after): the ids a selected workload continues from; per side, the
        # run folder (and its RunCtx) the last of them left; (id, side) of those that left none
        self.continued = continued
        self.carried: dict[str, tuple[str, RunCtx]] = {}
        self.broken: set[tuple[str, str]] = set()
        self._empty_trash()  # left by an interrupted bench

    def _sides(self, w: Workload) -> dict[str, Side]:
        sides: dict[str, Side] = {}
        probe_dir = self.work / "probe"
        probe_dir.mkdir(parents=True, exist_ok=True)
        for name in TOOLS:
            tool = self.tools.get(name)
            side = Side(name)
            if tool is None:
                side.status, side.message = self.unavailable.get(name, (NOT_INSTALLED, ""))
            elif name == "dvc" and self.scale in w.dvc_skipped:
                side.status, side.message = NOT_RUN, f"not run at {self.scale} scale (see notes)"
            elif name == "cairn":
                env = tool_env(tool.bin_dir, probe_dir)
                missing = [c for c in w.cairn_commands if not tool.implements(c, env, probe_dir)]
                if missing:
                    side.status = NOT_IMPLEMENTED
                    side.message = "not implemented yet (" + ", ".join(f"`cairn {c}`" for c in missing) + " missing)"
            sides[name] = side
        for name in [p for p in peers.PEERS if (p in self.tools or p in self.unavailable) and peers.has_side(p, w.id)]:
            why_not = peers.cannot(name, w.id)
            if why_not:
                sides[name] = Side(name, NOT_RUN, why_not)
            elif self.tools.get(name) is None:
                sides[name] = Side(name, *self.unavailable.get(name, (NOT_INSTALLED, "")))
            else:
                sides[name] = Side(name)
        if w.floor_command is not None:
            sides[FLOOR] = Side(FLOOR)
            if not any(self.tools.values()):
                sides[FLOOR].status, sides[FLOOR].message = NOT_RUN, "no tool to compare with"
        return sides

    def run(self, w: Workload) -> WorkloadResult:
        sides = self._sides(w)
        chained = w.after is not None or w.id in self.continued
        runs = 1 if chained else min(self.runs, w.max_runs or self.runs)
        warm = self.warmup and w.warmup and not chained
        rounds = ["warmup"] * warm + [f"run{i + 1}" for i in range(runs)]
        for side in sides.values():
            if side.status == OK and (w.after, side.name) in self.broken:
                side.status, side.message = NOT_RUN, f"not run: {w.after}, whose end state is its setup, failed"
        try:
            for label in rounds:
                for side in sides.values():
                    if side.status != OK:
                        continue
                    if label != "warmup":
                        self._wait_for_old_inodes()
                    print(f"[bench] {w.id} {side.name} {label}", flush=True)
                    sample = self._one(w, side, label)
                    if sample is not None and label != "warmup":
                        side.samples.append(sample)
        finally:
            if w.id in self.continued:
                self.broken.update((w.id, s.name) for s in sides.values() if s.status in (ERROR, NOT_RUN))
            self._empty_trash()
        return WorkloadResult(w, sides, runs, warm)

    def close(self) -> None:
        """Dispose of the run folders sequences left (their next workload did not run)."""
        for _id, ctx in self.carried.values():
            self._dispose(ctx.run_dir)
        self.carried.clear()
        self._empty_trash()

    def _dispose(self, run_dir: Path) -> None:
        if not run_dir.exists():
            return
        files = 0
        for _dirpath, _dirs, names in os.walk(run_dir):
            files += len(names)
            if files >= _MANY_FILES:
                self.trash.mkdir(parents=True, exist_ok=True)
                run_dir.rename(self.trash / f"{run_dir.name}-{time.monotonic_ns()}")
                return
        rmtree(run_dir)

    def _empty_trash(self) -> None:
        if not self.trash.exists():
            return
        rmtree_parallel(self.trash)
        os.sync()  # clean inode-table blocks: the 60 s window, not 360 s
        self.quiet_at = time.monotonic() + _INODE_AGE_S

    def _wait_for_old_inodes(self) -> None:
        if self.scale == "smoke":
            return  # smoke runs check the harness; their times mean nothing, so no minute-long waits
        wait = self.quiet_at - time.monotonic()
        if wait > 0:
            print(f"[bench] waiting {wait:.0f} s for the inodes of deleted runs to age", flush=True)
            time.sleep(wait)

    def _one(self, w: Workload, side: Side, label: str) -> Sample | None:
        is_floor = side.name == FLOOR
        # The floor needs a Tool only to fill RunCtx; its setup and command use none.
        tool = next(t for t in self.tools.values() if t) if is_floor else self.tools[side.name]
        assert tool is not None
        log_dir = self.logs / w.id
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{side.name}-{label}.log"
        stdout = log_dir / f"{side.name}-{label}.stdout"
        s3_endpoint = self.s3.endpoint if (w.s3 and self.s3) else None
        s3_bucket = BUCKET if w.s3 else None
        carried = None if is_floor else self.carried.pop(side.name, None)
        if carried is not None and carried[0] != w.after:
            self._dispose(carried[1].run_dir)  # a sequence this workload does not continue
            carried = None
        if carried is not None:
            ctx = replace(carried[1], log=log, stdout=stdout, s3_endpoint=s3_endpoint, s3_bucket=s3_bucket)
            run_dir = ctx.run_dir
            log.write_text(f"# continuing from {w.after}: {run_dir}\n")
        else:
            run_dir = self.runs_dir / f"{w.id}-{side.name}-{label}"
            rmtree(run_dir)
            home = run_dir / "home"
            for path, text in tool_home_files(home).items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            ctx = RunCtx(
                tool=tool,
                data=self.data,
                run_dir=run_dir,
                env=tool_env(None if is_floor else tool.bin_dir, home),
                log=log,
                stdout=stdout,
                s3_endpoint=s3_endpoint,
                s3_bucket=s3_bucket,
            )
        keep = False  # whether the run folder is the next workload's start
        try:
            if w.s3:
                assert self.s3 is not None
                self.s3.reset()
            setup = w.floor_setup if is_floor else (w.step if carried is not None else w.setup)
            command = w.floor_command if is_floor else w.command
            verify = None if is_floor else w.verify
            if side.name in peers.PEERS:  # a peer does the same work in its own commands
                own = peers.side_of(side.name, w.id)
                setup, command, verify = own.setup, own.command, own.verify
            assert setup is not None and command is not None
            try:
                setup(ctx)
            except (SetupError, subprocess.CalledProcessError, OSError) as exc:
                return self._fail(side, label, f"setup failed: {exc} (log: {log})")
            os.sync()  # no dirty pages of the setup (or an earlier run) get flushed inside the timing
            time.sleep(w.settle_s)
            sample = run_timed(
                command(ctx), cwd=ctx.cwd, env=ctx.env, stdout=ctx.stdout, stderr=log, timeout_s=self.timeout_s
            )
            if sample.timed_out:
                return self._fail(side, label, f"timed out after {self.timeout_s:.0f} s (log: {log})")
            if sample.exit_code != 0:
                return self._fail(side, label, f"exit {sample.exit_code}: {_tail(log)} (log: {log})")
            problem = None if verify is None else verify(ctx)
            if problem:
                return self._fail(side, label, f"wrong result: {problem} (log: {log})")
            keep = not is_floor and w.id in self.continued
            return sample
        finally:
            if keep:
                self.carried[side.name] = (w.id, ctx)
            else:
                self._dispose(run_dir)

    @staticmethod
    def _fail(side: Side, label: str, message: str) -> None:
        side.status, side.message = ERROR, f"{label}: {message}"
        print(f"[bench]   {side.name} failed: {side.message}", flush=True)
        return None


def time_help(tools: dict[str, Tool | None], work: Path, runs: int, warmup: bool) -> dict[str, list[Sample]]:
    """`<tool> --help` wall time, alternating the tools, in an empty folder."""
    where = work / "help"
    rmtree(where)
    where.mkdir(parents=True)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[Sample]] = {name: [] for name, t in tools.items() if t is not None}
    for i in range(runs + (1 if warmup else 0)):
        for name, tool in tools.items():
            if tool is None:
                continue
            s = run_timed(
                tool.argv("--help"),
                cwd=where,
                env=tool_env(tool.bin_dir, where),
                stdout=logs / f"help-{name}.stdout",
                stderr=logs / f"help-{name}.log",
                timeout_s=60,
            )
            if s.exit_code == 0 and (i > 0 or not warmup):
                samples[name].append(s)
    return samples
