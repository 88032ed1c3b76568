"""The Ray driver of the queue: connects to a cluster, hands queued experiments to the nodes
(cluster/task.py, run by a node's long-lived runner, cluster/runner.py, or as a plain Ray task
for GPU runs), writes each run's streamed log into the queue's log folder, records how each
ended, cancels the ones `queue kill` marked, and fails the ones no live node can hold any more.

Ray is imported here (and in the runner, on the nodes), only when a command asks for the Ray
executor."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from cairn.cluster import resources as res
from cairn.errors import ClusterError, ClusterUnreachableError, MissingDependencyError
from cairn.experiments.executor import ExpContext
from cairn.experiments.queue import Entry

EXECUTOR = "ray"
_POLL = 0.2  # s between looks at the tasks' streams: logs stay well under 1 s behind
_CHECK_NODES = 1.0  # s between looks at which nodes are alive
_CONNECT_TIMEOUT = 5.0  # s to wait for HOST:PORT to answer before giving up
_STALE_TIMEOUT = 30.0  # s to wait for a runner to say whether its code is current
_RUNS_PER_NODE = 64  # a runner's threads: runs at once on one node (their reservations decide)


def need_ray() -> None:
    """Ray installed, looked up without importing it."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise _not_installed()


def _not_installed() -> MissingDependencyError:
    return MissingDependencyError("the Ray executor needs Ray, which is not installed", "pip install 'cairn[ray]'")


def import_ray():
    # jsonschema, which Ray imports, compiles a grammar for its IRI format check when the optional
    # rfc3987-syntax is installed (jsonschema[format-nongpl], which a notebook stack brings): 3 s
    # of Ray's 4 s import, measured, paid by `queue start` and again by the driver. Nothing here
    # checks IRIs, so this process leaves it out.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    try:
        import ray
    except ImportError:
        raise _not_installed() from None
    return ray


def connect(address: str):
    """Ray, connected to the cluster at `address` (`auto`: the one `ray start` started on this
    machine; HOST:PORT: its head node). Waits a bounded time for an unreachable one."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address != "auto" and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ClusterError(f"bad cluster address {address!r}", "give HOST:PORT of the head node, or auto")
        _check_answers(address, host, int(port))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, logging_level="error", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterUnreachableError(
            f"cannot connect to a Ray cluster at {address}: {str(e).splitlines()[0]}",
            "start one with `ray start --head`, or pass --address HOST:PORT of its head node",
        ) from None
    return ray


# HTTP/2's client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers with
# its own SETTINGS frame
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _check_answers(address: str, host: str, port: int) -> None:
    """Something at HOST:PORT that speaks gRPC, checked within a bounded time: Ray's own
    connection retries for minutes, and forever when the port is not a GCS (a dashboard, a
    stray service)."""
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT) as conn:
            if os.environ.get("RAY_USE_TLS", "0") not in ("", "0"):
                return  # a TLS cluster answers only a TLS hello: Ray's connection checks it
            conn.sendall(_H2_HELLO)
            reply = b""
            while len(reply) < 9:
                data = conn.recv(9 - len(reply))
                if not data:
                    break
                reply += data
    except TimeoutError:
        reply = b""
    except OSError as e:
        raise ClusterUnreachableError(
            f"no Ray cluster answers at {address} ({e.strerror or e})",
            "start one with `ray start --head` there, or check the address (`ray status` on the head node)",
        ) from None
    if len(reply) < 9 or reply[3] != 4:  # not a SETTINGS frame
        raise ClusterUnreachableError(
            f"{address} answers, but not as a Ray cluster (no gRPC reply within {_CONNECT_TIMEOUT:.0f} s)",
            "give the address of the head node's GCS (port 6379 unless `ray start --head --port` chose "
            "another; `ray status` on the head node shows it)",
        )


def stop_runners(ray) -> list[str]:
    """Stop every node's long-lived runner (cluster/runner.py); the runs they hold are lost with
    them (their drivers retry them). Returns the names of the runners stopped."""
    from cairn.cluster import runner

    stopped = []
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] != runner.NAMESPACE or not runner.is_runner(actor["name"]):
            continue
        try:
            ray.kill(ray.get_actor(actor["name"], namespace=runner.NAMESPACE))
        except ValueError:  # gone meanwhile
            continue
        stopped.append(actor["name"])
    return stopped


def alive_nodes(ray) -> list[dict[str, float]]:
    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]


def check_fits(ray, entry: Entry, nodes: list[dict[str, float]] | None = None) -> str | None:
    """Why no live node can run `entry` (None when one can): Ray would wait for such a node forever."""
    request = res.ray_request(entry.resources)
    nodes = alive_nodes(ray) if nodes is None else nodes
    if any(res.fits(request, n) for n in nodes):
        return None
    asked = res.label(entry.resources) or "cpu=1"
    return f"no node of the cluster has {asked} (it has {res.describe_nodes(nodes)})"


@dataclass
class _Task:
    entry: Entry
    gen: Any  # ray's ObjectRefGenerator; None while a runner's run waits for its reservation
    log: IO[bytes]
    spec: dict[str, Any] = field(default_factory=dict)
    pg: Any = None  # a runner's run: the placement group holding its resources on its node
    node: str | None = None  # the node holding it, once known
    ready: Any = None  # pg.ready(), until the run is handed to the node's runner
    attempts: int = 0  # a runner's run: retries after a lost node (Ray retries plain tasks)
    result: dict[str, Any] | None = None
    error: str | None = None
    status: str | None = None  # set when the task ended without a result
    cancelled: bool = False
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[Entry], dict[str, Any]]  # the task's spec; pushes what the nodes need
Collect = Callable[[Entry, dict[str, Any]], tuple[str, int | None, str | None]]  # fetch a result


def run_queue(
    ctx: ExpContext,
    ray,
    jobs: int,
    max_retries: int,
    prepare: Prepare,
    collect: Collect,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, str]:
    """Run queued experiments as Ray tasks, `jobs` at a time, until none is left (or
    `should_stop`). Returns name -> final status."""
    from cairn.cluster.task import run_experiment

    remote = ray.remote(run_experiment)
    runners = _Runners(ray)
    held: _Held = {}  # reservations of runs that ended, for the next runs asking the same
    logs = ctx.logs()
    logs.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, _Task] = {}
    ended: list[_Task] = []  # finished, recorded once their slots run new tasks
    results: dict[str, str] = {}
    last_check = 0.0
    try:
        while True:
            while len(tasks) < jobs and not should_stop():
                q = ctx.queue()
                try:
                    entry = q.claim(os.getpid(), EXECUTOR)
                    if entry is None:
                        break
                    why = check_fits(ray, entry)
                    if why is None:
                        try:
                            spec = prepare(entry)
                        except ClusterError as e:
                            why = e.message
                        except Exception as e:  # one entry's trouble must not take the driver down
                            why = f"cannot hand {entry.name!r} to the cluster: {type(e).__name__}: {e}"
                    if why is not None:
                        q.finish(entry.name, "failed", None, why)
                        results[entry.name] = "failed"
                        continue
                finally:
                    q.close()
                log = open(logs / f"{entry.name}.log", "wb")  # noqa: SIM115 (closed in _record)
                if _by_runner(entry):
                    t = tasks[entry.name] = _Task(entry, None, log, spec)
                    _reserve(ray, t, held)
                    if t.node is not None:  # an ended run's reservation: no wait for Ray
                        _hand_over(ray, t, runners)
                    continue
                gen = remote.options(
                    **res.ray_options(entry.resources),
                    num_returns="streaming",
                    max_retries=max_retries,
                    retry_exceptions=False,  # only a lost worker or node is retried, not a failed run
                    name=f"cairn-exp:{entry.name}",
                ).remote(spec)
                tasks[entry.name] = _Task(entry, gen, log, spec)
            _release(held)  # no run of this driver asks for them now: back to the cluster
            # fetching a result takes a git round trip: done while the next tasks already run
            for t in ended:
                results[t.entry.name] = _record(ctx, t, collect)
            ended = []
            if not tasks:
                break
            waits = [w for t in tasks.values() if not t.done for w in [t.ready if t.gen is None else t.gen] if w]
            if waits:
                ray.wait(waits, num_returns=1, timeout=_POLL, fetch_local=False)
            for t in tasks.values():
                if t.gen is None and not t.done:
                    _hand_over(ray, t, runners)
                if t.gen is not None:
                    _drain(ray, t)
                if t.done and t.pg is not None:
                    _lost_or_over(ray, t, max_retries, held, runners)
            if time.monotonic() - last_check >= _CHECK_NODES:
                last_check = time.monotonic()
                _look_after(ctx, ray, tasks)
            ended = [tasks.pop(n) for n in [n for n, t in tasks.items() if t.done]]
    except KeyboardInterrupt:
        q = ctx.queue()
        try:
            for t in tasks.values():
                _cancel(ray, t)
                q.finish(t.entry.name, "killed", None, "stopped with Ctrl-C")
            for t in ended:  # the next driver fetches these results (repo/cluster.py reattach)
                why = "the driver was stopped before it fetched the result; `queue start` fetches it"
                q.finish(t.entry.name, "failed", None, why)
        finally:
            q.close()
        raise
    finally:
        for t in [*tasks.values(), *ended]:
            t.log.close()
    return results


def _drain(ray, t: _Task) -> None:
    """Take what the task streamed so far: log chunks into its log, the result at the end."""
    from ray.exceptions import RayTaskError, TaskCancelledError

    try:
        while not t.done:
            if t.gen.is_finished():  # every item taken (next_ready says False then too)
                t.done = True
                break
            if not t.gen.next_ready():
                break
            try:
                item = ray.get(next(t.gen))
            except StopIteration:
                t.done = True
                break
            if "log" in item:
                t.log.write(item["log"].encode())
                t.log.flush()
            else:
                t.result = item["result"]
    except TaskCancelledError:
        t.done, t.status, t.error = True, "killed", "killed with `cairn queue kill`"
    except RayTaskError as e:  # the task's own code raised: a bug, or a node it could not use
        t.done, t.status, t.error = True, "failed", str(e.cause if e.cause else e).splitlines()[-1]
    except ray.exceptions.RayError as e:  # the worker or its node died, retries used up
        t.done, t.status = True, "failed"
        t.error = f"node lost: {type(e).__name__}: {str(e).splitlines()[0]}"
    if t.done and t.status is None and t.result is None:
        t.status, t.error = "failed", "node lost: the task ended without a result"


def _by_runner(entry: Entry) -> bool:
    """Whether a node's runner runs `entry`: any request but GPUs, whose devices Ray assigns
    only to its own tasks (CUDA_VISIBLE_DEVICES)."""
    return res.ray_request(entry.resources).get("GPU", 0) <= 0


_Held = dict[tuple, list[tuple[Any, str]]]  # request -> [(placement group, node)]


def _request(entry: Entry) -> tuple:
    return tuple(sorted((k, v) for k, v in res.ray_request(entry.resources).items() if v > 0))


def _reserve(ray, t: _Task, held: _Held) -> None:
    """Ask Ray for the run's resources on one node (a placement group): Ray picks the node as
    it would for a task, and the reservation lives as long as this driver does. A run that
    asks what an ended run held takes that reservation over: no round trips to Ray for it."""
    from ray.util import placement_group

    t.gen, t.ready = None, None
    if held.get(_request(t.entry)):
        t.pg, t.node = held[_request(t.entry)].pop()
        return
    t.pg = placement_group([dict(_request(t.entry))], strategy="STRICT_PACK", name=f"cairn-exp:{t.entry.name}")
    t.ready, t.node = t.pg.ready(), None


def _release(held: _Held) -> None:
    from ray.util import remove_placement_group

    for pgs in held.values():
        for pg, _ in pgs:
            remove_placement_group(pg)
    held.clear()


def _hand_over(ray, t: _Task, runners: _Runners) -> None:
    """Once its reservation is held, the run goes to the runner of the node that holds it."""
    from ray.util import placement_group_table

    if t.node is None:
        if not ray.wait([t.ready], timeout=0, fetch_local=False)[0]:
            return
        t.node = placement_group_table(t.pg)["bundles_to_node_id"][0]
    node = t.node
    t.ready = None
    t.gen = runners.on(node).run.options(num_returns="streaming", name=f"cairn-exp:{t.entry.name}").remote(t.spec, t.pg)


def _lost_or_over(ray, t: _Task, max_retries: int, held: _Held, runners: _Runners) -> None:
    """A runner's run ended: its reservation is kept for the next run (released if none takes
    it); lost with its node, it is released and the run retried (as Ray retries a task) while
    retries are left."""
    from ray.util import remove_placement_group

    lost = t.status == "failed" and (t.error or "").startswith("node lost") and not t.cancelled
    if t.result is not None and not t.cancelled and t.node is not None:
        held.setdefault(_request(t.entry), []).append((t.pg, t.node))
    else:
        remove_placement_group(t.pg)
    t.pg = None
    if lost and t.node is not None:
        runners.forget(t.node)  # stopped or gone with its node: a retry there starts a new one
    if lost and t.attempts < max_retries:
        t.attempts += 1
        t.log.write(f"[cairn] {t.error}; retried ({t.attempts} of {max_retries})\n".encode())
        t.log.flush()
        t.done, t.status, t.error, t.result = False, None, None, None
        _reserve(ray, t, held)


def _cancel(ray, t: _Task, force: bool = False) -> None:
    from ray.util import remove_placement_group

    t.cancelled = True
    if t.gen is not None:
        ray.cancel(t.gen, force=force and t.pg is None)  # an actor's run cannot be forced
    if t.pg is not None:
        remove_placement_group(t.pg)  # the runner sees it gone and stops the run
        t.pg = None


class _Runners:
    """The long-lived runner of each node (cluster/runner.py): the one a driver before started,
    replaced when the node's cairn changed since, or a new one on the node's first run."""

    def __init__(self, ray) -> None:
        from cairn.cluster import runner

        self.ray = ray
        self.actor = ray.remote(runner.Runner)
        self.handles: dict[str, Any] = {}

    def on(self, node: str):
        if node not in self.handles:
            self.handles[node] = self._existing(node) or self._start(node)
        return self.handles[node]

    def forget(self, node: str) -> None:
        self.handles.pop(node, None)

    def _existing(self, node: str):
        from cairn.cluster import runner

        try:
            handle = self.ray.get_actor(runner.name(node), namespace=runner.NAMESPACE)
            if not self.ray.get(handle.stale.remote(), timeout=_STALE_TIMEOUT):
                return handle
        except (ValueError, self.ray.exceptions.RayError):  # none, or dead: a new one
            return None
        self.ray.kill(handle)
        deadline = time.monotonic() + _STALE_TIMEOUT
        while time.monotonic() < deadline:  # its name is free once Ray has it dead
            try:
                self.ray.get_actor(runner.name(node), namespace=runner.NAMESPACE)
            except ValueError:
                break
            time.sleep(0.1)
        return None

    def _start(self, node: str):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from cairn.cluster import runner

        return self.actor.options(
            name=runner.name(node),
            namespace=runner.NAMESPACE,
            lifetime="detached",  # outlives this driver: the next one finds it warm
            get_if_exists=True,  # two drivers starting it at once get the same one
            num_cpus=0,  # the runs' placement groups hold the resources
            max_concurrency=_RUNS_PER_NODE,
            max_restarts=0,  # a node lost is a run lost (and retried), not a runner restarted
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        ).remote()


def _look_after(ctx: ExpContext, ray, tasks: dict[str, _Task]) -> None:
    """Cancel what `queue kill` marked; fail what no live node can hold any more (its node died
    and no other has the resources: Ray would wait for one forever)."""
    nodes = alive_nodes(ray)
    q = ctx.queue()
    try:
        for t in tasks.values():
            if t.done or t.cancelled:
                continue
            entry = q.get(t.entry.name)
            if entry is not None and entry.status == "killed":
                # a task gets KeyboardInterrupt, a runner's run sees its reservation go: either
                # stops its stage processes
                _cancel(ray, t)
                if t.gen is None:  # still waiting for its reservation: nothing runs
                    t.done, t.status, t.error = True, "killed", "killed with `cairn queue kill`"
                continue
            why = check_fits(ray, t.entry, nodes)
            if why is not None:
                _cancel(ray, t, force=True)
                t.done, t.status, t.error = True, "failed", f"node lost: {why}"
    finally:
        q.close()


def _record(ctx: ExpContext, t: _Task, collect: Collect) -> str:
    t.log.close()
    status, code, error = t.status or "failed", None, t.error
    if t.result is not None and t.status is None:
        if t.result.get("commit"):
            try:
                status, code, error = collect(t.entry, t.result)
            except ClusterError as e:
                status, code, error = "failed", None, e.message
            except Exception as e:  # recorded on the entry; the driver goes on with the others
                status, code, error = "failed", None, f"the result could not be read: {type(e).__name__}: {e}"
        else:
            status, error = "failed", t.result.get("error") or "the run ended without recording the experiment"
    q = ctx.queue()
    try:
        q.finish(t.entry.name, status, code, error)  # a `queue kill` recorded before stays
        final = q.get(t.entry.name)
        return final.status if final else status
    finally:
        q.close()
