"""`queue start --executor ray` on a real two-node Ray cluster: results as the local executor
records them, logs, kill, a lost node, requests no node can hold, bad addresses."""

from __future__ import annotations

import json

IGNORED = {"name", "created"}  # what differs between any two runs


def test_cluster_runs_give_the_local_results(cluster_repo, ray_cluster):
    repo = cluster_repo
    for lr in ("0.2", "0.3"):
        repo.exp("run", "--queue", "-n", f"ray-{lr}", "-S", f"train.lr={lr}", "--resources", "cpu=1")
    out = repo.queue("start", "--executor", "ray", "--address", ray_cluster.address, "-j", "2").stdout
    assert "on the Ray cluster at" in out
    entries = repo.wait_queue(90)
    assert {n: e["status"] for n, e in entries.items()} == {"ray-0.2": "success", "ray-0.3": "success"}, entries
    log = repo.queue("logs", "ray-0.2").stdout
    print(log)
    assert "trained: acc 0.82" in log
    rows = repo.by_name()
    print(json.dumps(rows, indent=1))
    # the same experiments with the local executor
    for lr in ("0.2", "0.3"):
        repo.exp("run", "--queue", "-n", f"local-{lr}", "-S", f"train.lr={lr}")
    repo.exp("run", "--run-all", "-j", "2")
    rows = repo.by_name()
    for lr in ("0.2", "0.3"):
        ray_row, local_row = rows[f"ray-{lr}"], rows[f"local-{lr}"]
        assert {k: v for k, v in ray_row.items() if k not in IGNORED} == {
            k: v for k, v in local_row.items() if k not in IGNORED
        }
