"""Fixtures of the cluster suite: a real two-node Ray cluster on this machine (one CPU each, a
fake GPU on the second; started once per module), and the experiments suite's project given a
bare git origin and a folder cairn remote, the two places the nodes reach it through."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

_MB = 1024 * 1024


class RayNodes:
    """The test cluster: a head node (1 CPU) and a "gpu" node (1 CPU, 1 fake GPU), each with
    its own cairn node cache, as two machines would have; tests add and remove more."""

    def __init__(self, root: Path) -> None:
        from ray.cluster_utils import Cluster

        self.root = root
        self.caches: dict[str, Path] = {}
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "include_dashboard": False,
                "object_store_memory": 80 * _MB,
                "env_vars": self._env("head"),
                # a node that stops answering is declared dead after ~3 s, not Ray's ~30 s
                "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3},
            },
        )
        self.address = self.cluster.address
        self.gpu_node = self.add_node("gpu", num_gpus=1)

    def add_node(self, name: str, num_cpus: int = 1, **kwargs):
        node = self.cluster.add_node(
            num_cpus=num_cpus, object_store_memory=80 * _MB, env_vars=self._env(name), **kwargs
        )
        self.cluster.wait_for_nodes()
        return node

    def remove_node(self, node, name: str) -> None:
        """The node dies as a machine would, all at once: its raylet, then its workers before
        they can report anything, then what its tasks started."""
        raylet = node.all_processes["raylet"][0].process.pid
        workers = [pid for pid in _pids() if _ppid(pid) == raylet]
        self.cluster.remove_node(node, allow_graceful=False)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.stop_strays(self.caches[name])

    def _env(self, name: str) -> dict[str, str]:
        self.caches[name] = self.root / f"node-{name}"
        return {"CAIRN_CLUSTER_CACHE": str(self.caches[name]), "RAY_USAGE_STATS_ENABLED": "0"}

    def stop_strays(self, under: Path | None = None) -> None:
        """Processes whose folder is in a node cache (a run's stages, in their own session,
        outlive the worker Ray killed with its node)."""
        prefix = str(under or self.root) + os.sep
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd.startswith(prefix):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayNodes]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    nodes = RayNodes(tmp_path_factory.mktemp("ray-nodes"))
    try:
        yield nodes
    finally:
        nodes.stop_strays()
        nodes.cluster.shutdown()


@pytest.fixture
def cluster_repo(exp_repo, tmp_path: Path):
    """The experiments project with a bare git origin and a default folder cairn remote (committed
    config), everything pushed: what the nodes fetch and pull from."""
    origin = tmp_path / "origin.git"
    exp_repo.git("init", "-q", "--bare", str(origin))
    exp_repo.git("remote", "add", "origin", str(origin))
    store = tmp_path / "store"
    store.mkdir()
    exp_repo.cairn("remote", "add", "-d", "store", str(store))
    exp_repo.git("add", "-A")
    exp_repo.git("commit", "-q", "-m", "the data remote")
    exp_repo.git("push", "-q", "origin", "main")
    exp_repo.cairn("push")
    exp_repo.origin = origin
    exp_repo.store = store
    return exp_repo
