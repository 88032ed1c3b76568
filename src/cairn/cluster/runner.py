"""The long-lived runner of a node: a detached Ray actor (one per node, named in the `cairn`
namespace) that runs queued experiments for every driver that comes later.

Ray starts fresh worker processes for each new driver (a job), and starting one (Python, Ray,
cairn) costs seconds before a plain task's first line runs. A detached actor outlives the driver
that started it, so a later `queue start` calls the warm one instead. Ray still decides where a
run goes and reserves its resources: the driver holds a placement group of the run's request and
calls the runner of the node the group landed on. The run stops when the group is gone (the
driver removed it on `queue kill`, or Ray removed it with its dead driver), as a task would have
stopped with its driver. Runs that ask for GPUs stay plain tasks, for which Ray picks the devices
(CUDA_VISIBLE_DEVICES).

Runs here in the actor's process on its node, with Ray already imported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

NAMESPACE = "cairn"
_PREFIX = "runner:"  # + the node's id
_CHECK_EVERY = 0.5  # s between looks at the run's placement group (a dead driver's runs stop)
_CODE = [Path(__file__), Path(__file__).with_name("task.py")]  # the code a runner keeps loaded


def name(node_id: str) -> str:
    return _PREFIX + node_id


def is_runner(actor_name: str) -> bool:
    return actor_name.startswith(_PREFIX)


def code_digest() -> str:
    """The runner's code as it is on disk now; a runner that loaded other code is replaced."""
    h = sha256()
    for path in _CODE:
        h.update(path.read_bytes())
    return h.hexdigest()


class Runner:
    """Ray makes it a threaded actor (max_concurrency): one thread per run on the node."""

    def __init__(self) -> None:
        self.loaded = code_digest()

    def stale(self) -> bool:
        """Whether cairn changed on this node since the runner started (an upgrade)."""
        try:
            return code_digest() != self.loaded
        except OSError:
            return True

    def run(self, spec: dict[str, Any], pg: Any) -> Iterator[dict[str, Any]]:
        from cairn.cluster.task import run_experiment

        yield from run_experiment(spec, stopped=_Watch(pg))


class _Watch:
    """Whether the run must stop: cancelled (`ray.cancel`), or its placement group removed."""

    def __init__(self, pg: Any) -> None:
        self.pg = pg
        self.last = time.monotonic()

    def __call__(self) -> bool:
        import ray
        from ray.util import placement_group_table

        if ray.get_runtime_context().is_canceled():
            return True
        if time.monotonic() - self.last < _CHECK_EVERY:
            return False
        self.last = time.monotonic()
        try:
            return placement_group_table(self.pg).get("state") == "REMOVED"
        except Exception:  # the GCS did not answer this time: look again next time
            return False
