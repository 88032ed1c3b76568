"""Fixtures of the cluster suite: a real two-node Ray cluster on this machine (one CPU each, a
fake GPU on the second; started once per module), and the experiments suite's project given a
bare git origin and a folder cairn remote, the two places the nodes reach it through."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.experiments.conftest import _exp_template, exp_repo, markers  # noqa: F401 (fixtures)

_MB = 1024 * 1024


class RayNodes:
    """The test cluster: a head node (1 CPU) and a "gpu" node (1 CPU, 1 fake GPU), each with
    its own cairn node cache, as two machines would have."""

    def __init__(self, root: Path) -> None:
        from ray.cluster_utils import Cluster

        self.root = root
        self.caches = {"head": root / "node-head", "gpu": root / "node-gpu"}
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "include_dashboard": False,
                "object_store_memory": 80 * _MB,
                "env_vars": self._env("head"),
            },
        )
        self.address = self.cluster.address
        self.gpu_node = self.add_gpu_node()
        self.cluster.wait_for_nodes()

    def add_gpu_node(self):
        self.gpu_node = self.cluster.add_node(
            num_cpus=1, num_gpus=1, object_store_memory=80 * _MB, env_vars=self._env("gpu")
        )
        return self.gpu_node

    def _env(self, node: str) -> dict[str, str]:
        return {"CAIRN_CLUSTER_CACHE": str(self.caches[node]), "RAY_USAGE_STATS_ENABLED": "0"}

    def stop_strays(self) -> None:
        """Stage processes a removed node's task left behind (their session outlives the
        worker Ray killed) run under the node caches: stop them."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(self.root) + os.sep):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


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
def cluster_repo(exp_repo, tmp_path: Path):  # noqa: F811 (the fixture imported above)
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
