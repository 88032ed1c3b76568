"""Timing one command: wall time and peak RSS of its process tree.

The command runs under bench/launcher.py (a small separate python), which posix_spawns it,
times it with time.perf_counter() from just before the spawn to the return of os.wait4(), and
reports wait4's rusage. So the launcher's own start-up is not in the timing.

Peak RSS: the ru_maxrss that os.wait4() returns for the child. On Linux that is the larger of
the child's own peak RSS and the peak of every descendant it waited for (the kernel folds a
reaped child's maxrss into its parent's "children" maxrss), so it is the peak of the *largest
single process* in the tree, not the sum of processes alive at the same time, and it misses
daemons that double-fork away (reaped by init). It also includes the image the child had
before exec (a copy of the process that forked it): that is why the launcher, ~8 MiB, forks the
command and not the bench process itself (70+ MiB); values below the launcher's ~8 MiB cannot
be seen. getrusage(RUSAGE_CHILDREN) deltas could not be used: maxrss there is a running maximum
over all children ever, not a sum, so it has no delta.

CPU time (user + sys) of the tree comes from the same rusage and is reported as well.

Processes the command leaves behind (DVC's experiment queue workers outlive `dvc exp run
--run-all` by half a minute) are killed once it has returned: every process still in the
launcher's session, which the command and all it starts share unless they call setsid(). So
nothing of one run goes on working, and costing CPU, during the next run.

Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"


@dataclass(frozen=True)
class Sample:
    wall_s: float
    maxrss_kib: int
    cpu_s: float
    exit_code: int
    timed_out: bool = False


def kill_session(sid: int) -> list[str]:
    """SIGKILL every process of session SID (the launcher started it with setsid); their names."""
    killed = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].rpartition(") ")
        fields = rest.split()  # state ppid pgrp session ...
        pid = int(stat.parent.name)
        if len(fields) > 3 and int(fields[3]) == sid and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(f"{name}[{pid}]")
            except ProcessLookupError:
                pass
    return killed


def run_timed(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdout: Path,
    stderr: Path,
    timeout_s: float,
) -> Sample:
    """Run ARGV once; stdout and stderr go to files, so the child never blocks on a pipe."""
    result = stdout.with_name(stdout.name + ".rusage")
    result.unlink(missing_ok=True)
    with stdout.open("wb") as out, stderr.open("ab") as err:
        err.write(f"$ (cd {cwd} && {' '.join(argv)})  # timed\n".encode())
        err.flush()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-I", str(LAUNCHER), str(result), *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            kill_session(proc.pid)
            return Sample(wall_s=timeout_s, maxrss_kib=0, cpu_s=0.0, exit_code=-9, timed_out=True)
        left = kill_session(proc.pid)
        if left:
            err.write(f"# killed {len(left)} process(es) the command left running: {', '.join(left)}\n".encode())
    try:
        wall, rss, utime, stime, code = result.read_text().split()
    except (OSError, ValueError):
        return Sample(wall_s=0.0, maxrss_kib=0, cpu_s=0.0, exit_code=proc.returncode or 255)
    return Sample(wall_s=float(wall), maxrss_kib=int(rss), cpu_s=float(utime) + float(stime), exit_code=int(code))
