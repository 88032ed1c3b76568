"""What recording the environment adds to a stage run (issue 15's target: < 20 ms).

Runs a pipeline of STAGES one-command stages in a temp git + cairn repository with `repro
--force`, in this process, alternately with the environment hook and without it, and prints the
median of each and the difference per stage; then the cost of a capture with and without the
per-user cache file. Usage: python bench/env_overhead.py [STAGES] [RUNS]"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cairn.environment.capture import capture
from cairn.pipelines.runner import ReproOptions, Runner
from cairn.repo import Repo


def main(stages: int = 10, runs: int = 15) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        Repo.init(root)
        lines = ["stages:"]
        for i in range(stages):
            lines += [f"  s{i}:", f"    cmd: echo {i} > out{i}", f"    outs: [out{i}]"]
        (root / "cairn.yaml").write_text("\n".join(lines) + "\n")
        times: dict[str, list[float]] = {"with": [], "without": []}
        for n in range(runs * 2 + 2):
            mode = "with" if n % 2 else "without"
            repo = Repo(root)
            hook = repo.environment if mode == "with" else None
            runner = Runner(repo.ws, repo.pipeline_graph(), env=hook)
            t = time.perf_counter()
            with repo.lock():
                runner.run(ReproOptions(force=True))
            if n >= 2:  # the first pair warms the caches (imports, the environment cache file)
                times[mode].append(time.perf_counter() - t)
        w, wo = statistics.median(times["with"]), statistics.median(times["without"])
        print(f"repro -f of {stages} stages, median of {runs}: with {w * 1000:.1f} ms, without {wo * 1000:.1f} ms")
        print(f"  difference per stage run: {(w - wo) / stages * 1000:.2f} ms")
        cache = root / "env-cache"
        t = time.perf_counter()
        capture([], None)
        print(f"capture without the cache file: {(time.perf_counter() - t) * 1000:.1f} ms")
        hits = []
        for _ in range(runs):
            t = time.perf_counter()
            capture([], cache)
            hits.append(time.perf_counter() - t)
        print(f"capture with the cache file: {statistics.median(hits) * 1000:.2f} ms")
        from cairn.repo.environment import RepoEnvironment

        for what, call in [("record (the hook a run calls once)", "record"), ("status check", "stage_changes")]:
            spent = []
            for _ in range(runs):
                env = RepoEnvironment(Repo(root))  # nothing kept in memory between runs
                t = time.perf_counter()
                getattr(env, call)()
                spent.append(time.perf_counter() - t)
            print(f"{what}: {statistics.median(spent) * 1000:.2f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
