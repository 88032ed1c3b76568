"""W-ray (issue 21), cairn alone: queued experiments on a two-node Ray cluster on this machine.

Not a catalog workload: bench/run.py installs cairn without extras into its own venv, and this one
needs Ray and a cluster started around the timing. Run it with the interpreter of an environment
where `cairn[ray]` is installed:

    python bench/cluster_workloads.py [--queued 8] [--sleep 2] [--runs 1] [--no-local]

The setup (untimed) is W17's: a one-stage pipeline (`sleep S && cp params.yaml metrics.yaml`),
N x `exp run --queue -S train.p=N`, plus a bare git origin and a folder cairn remote. Timed: from
`cairn queue start --executor ray -j 2` until every entry is finished. Also timed, the same with
`sleep 0`: the per-experiment overhead of the cluster path, as the time one more run adds beyond
a queue of two (the fixed costs: the driver's start, each node's first run), measured on the
fresh cluster (each node starts its long-lived runner) and again with the runners warm. Each is
followed by the local executor on the same setup (`exp run --run-all -j 2`, untimed setup again).
Target: 8 queued 2-s experiments in < 12 s, overhead < 0.5 s per experiment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CAIRN = str(BIN / "cairn")


def sh(*args: str, cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, queued: int, sleep: str) -> Path:
    repo = root / "proj"
    repo.mkdir(parents=True)
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "config", "user.name", "bench", cwd=repo)
    sh("git", "config", "user.email", "bench@example.com", cwd=repo)
    sh(CAIRN, "init", cwd=repo)
    (repo / "cairn.yaml").write_text(
        f"stages:\n  train:\n    cmd: sleep {sleep} && cp params.yaml metrics.yaml\n    params:\n    - train.p\n"
        "    metrics:\n    - metrics.yaml:\n        cache: false\n"
    )
    (repo / "params.yaml").write_text("train:\n  p: 1\n")
    origin = root / "origin.git"
    sh("git", "init", "-q", "--bare", str(origin), cwd=root)
    sh("git", "remote", "add", "origin", str(origin), cwd=repo)
    (root / "store").mkdir()
    sh(CAIRN, "remote", "add", "-d", "store", str(root / "store"), cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "pipeline", cwd=repo)
    sh("git", "push", "-q", "origin", "main", cwd=repo)
    for i in range(2, queued + 2):
        sh(CAIRN, "exp", "run", "--queue", "-S", f"train.p={i}", cwd=repo)
    return repo


def timed_queue(repo: Path, address: str, jobs: int, phases: bool = False) -> float:
    t0 = time.perf_counter()
    wall0 = time.time()
    out = sh(CAIRN, "queue", "start", "--executor", "ray", "--address", address, "-j", str(jobs), cwd=repo)
    ready = time.time()
    driver = int(out.split("(pid ")[1].split(",")[0])
    logs = repo / ".cairn" / "state" / "queue" / "logs"
    first: dict[str, float] = {}  # entry -> when its node's first log line arrived here
    while os.path.exists(f"/proc/{driver}") and "zombie" not in _state(driver):
        time.sleep(0.02)  # the driver exits once the queue is done; polling `queue status` would load the CPU
        if phases and logs.is_dir():
            for log in logs.iterdir():
                if log.stem not in first and log.stat().st_size:
                    first[log.stem] = time.time()
    took = time.perf_counter() - t0
    entries = json.loads(sh(CAIRN, "queue", "status", "--json", cwd=repo))
    bad = [e["name"] for e in entries if e["status"] != "success"]
    if bad:
        raise SystemExit(f"not every experiment succeeded: {bad} (see `cairn queue logs NAME` in {repo})")
    if phases:
        print(f"    driver ready (queue start returned) at {ready - wall0:.2f} s")
        for e in sorted(entries, key=lambda e: e["started"]):
            print("    " + _phases(e, first.get(e["name"]), wall0, (logs / f"{e['name']}.log").read_text()))
    return took


def _phases(entry: dict, first: float | None, wall0: float, log: str) -> str:
    """One run's phases: claimed by the driver, its node's first log line (the wait for a Ray
    worker), the steps the node timed (its log), the rest until the driver recorded it."""
    steps = re.findall(r"^\[cairn\] (?:baseline (checked out) in |cairn (\w+ ?\w*): )([\d.]+) s", log, re.M)
    timed = {a or b: float(t) for a, b, t in steps}
    arrived = f"{first - entry['started']:.2f}" if first else "?"
    rest = entry["finished"] - (first or entry["started"]) - sum(timed.values())
    shown = " ".join(f"{k.replace(' ', '-')} {v:.2f}" for k, v in timed.items())
    return (
        f"{entry['name']}: claimed {entry['started'] - wall0:.2f}, first log line +{arrived}, {shown}, "
        f"rest {rest:.2f}, recorded {entry['finished'] - wall0:.2f}"
    )


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((ln for ln in f if ln.startswith("State:")), "").lower()
    except OSError:
        return "zombie"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queued", type=int, default=8)
    ap.add_argument("--sleep", default="2")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-local", action="store_true", help="skip the local executor's runs")
    args = ap.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    work = Path(tempfile.mkdtemp(prefix="cairn-bench-ray-"))
    mb = 1024 * 1024
    t0 = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": 80 * mb,
            "env_vars": {"CAIRN_CLUSTER_CACHE": str(work / "node-1")},
        },
    )
    cluster.add_node(num_cpus=1, object_store_memory=80 * mb, env_vars={"CAIRN_CLUSTER_CACHE": str(work / "node-2")})
    cluster.wait_for_nodes()
    print(f"two-node cluster started in {time.perf_counter() - t0:.1f} s (untimed)")
    try:
        # the fixed cost of a queue (driver start, first run of each node): 2 runs of `sleep 0`,
        # on a fresh cluster (each node starts its runner), then again (the runners are warm)
        for when in ("a fresh cluster", "warm runners"):
            root = work / "fixed"
            fixed = timed_queue(make_repo(root, 2, "0"), cluster.address, 2, phases=True)
            shutil.rmtree(root, ignore_errors=True)
            print(f"2 queued experiments of `sleep 0` (one a node), {when}: {fixed:.2f} s")
        for run in range(args.runs):
            for sleep in (args.sleep, "0"):
                root = work / f"run{run}-sleep{sleep}"
                repo = make_repo(root, args.queued, sleep)
                took = timed_queue(repo, cluster.address, 2, phases=True)
                per = took / args.queued * 2
                what = f"{args.queued} queued experiments of `sleep {sleep}`, -j 2 on 2 nodes"
                print(f"{what}: {took:.2f} s ({per:.2f} s a run)")
                if sleep == "0" and args.queued > 2:  # each run past the first two, per slot
                    marginal = (took - fixed) / ((args.queued - 2) / 2)
                    print(f"  overhead of one more run (beyond the first two): {marginal:.2f} s")
                shutil.rmtree(root, ignore_errors=True)
                if args.no_local:
                    continue
                # the local executor on the same setup, for comparison (W17's command)
                repo = make_repo(root, args.queued, sleep)
                t0 = time.perf_counter()
                sh(CAIRN, "exp", "run", "--run-all", "-j", "2", cwd=repo)
                took = time.perf_counter() - t0
                print(f"  the same with the local executor (`exp run --run-all -j 2`): {took:.2f} s")
                shutil.rmtree(root, ignore_errors=True)
    finally:
        cluster.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
