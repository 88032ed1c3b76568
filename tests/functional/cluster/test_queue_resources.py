"""What needs no cluster: `--resources` stored with the queue entry, bad requests, Ray never
imported unless asked, and the Ray executor refusing clearly when it cannot start."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.errors import ClusterError, ClusterUnreachableError, MissingDependencyError, UserInputError


def test_resources_are_stored_with_each_queued_entry(exp_repo):
    exp_repo.exp("run", "--queue", "-n", "big", "-S", "train.lr=0.2,0.3", "--resources", "cpu=2,gpu=1,memory=8G")
    exp_repo.exp("run", "--queue", "-n", "plain", "-S", "train.lr=0.4")
    entries = exp_repo.status()
    assert entries["big-1"]["resources"] == entries["big-2"]["resources"] == {"cpu": 2, "gpu": 1, "memory": 8 << 30}
    assert entries["plain"]["resources"] is None
    text = exp_repo.queue("status").stdout
    assert "big-1\tqueued\ttrain.lr=0.2\t(cpu=2,gpu=1,memory=8G)\n" in text, text
    assert "plain\tqueued\ttrain.lr=0.4\n" in text, text
    # the local executor runs them as before (a request is for cluster nodes)
    exp_repo.exp("run", "--run-all")
    assert {n: e["status"] for n, e in exp_repo.status().items()} == dict.fromkeys(entries, "success")


def test_bad_resources_queue_nothing(exp_repo, assert_error):
    proc = exp_repo.exp("run", "--queue", "-S", "train.lr=0.2", "--resources", "cpu=four", expect=None)
    assert_error(proc, UserInputError, "bad amount for cpu: 'four' is not a number", "cpu=4,gpu=1,memory=8G")
    proc = exp_repo.exp("run", "--queue", "--resources", "memory=lots", expect=None)
    assert_error(proc, UserInputError, "bad amount for memory: 'lots'", "a size in bytes or with K, M, G, T")
    proc = exp_repo.exp("run", "-S", "train.lr=0.2", "--resources", "cpu=1", expect=None)
    assert_error(proc, UserInputError, "--resources is for queued experiments", "add --queue")
    assert exp_repo.status() == {}


_NO_RAY = "import sys; {code}; print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"


def test_nothing_imports_ray_unless_asked(exp_repo):
    cli = subprocess.run(
        [sys.executable, "-c", _NO_RAY.format(code="import cairn.cli.main")], capture_output=True, text=True
    )
    assert cli.stdout.strip() == "[]", cli.stderr
    # a whole local queue run (the worker loop, its forked runs) in one process
    exp_repo.exp("run", "--queue", "-n", "here", "-S", "train.lr=0.2", "--resources", "cpu=1")
    code = (
        "from cairn.cli.main import main\ntry:\n    main(['queue', 'worker', '-j', '1'])\nexcept SystemExit:\n    pass"
    )
    worker = subprocess.run(
        [sys.executable, "-c", _NO_RAY.format(code=f"exec({code!r})")],
        cwd=exp_repo.root,
        capture_output=True,
        text=True,
    )
    assert worker.stdout.strip().splitlines()[-1] == "[]", worker.stderr
    assert exp_repo.status()["here"]["status"] == "success"


def test_ray_not_installed(exp_repo, assert_error, tmp_path):
    shadow = tmp_path / "no-ray" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    exp_repo.exp("run", "--queue", "-S", "train.lr=0.2")
    proc = exp_repo.queue("start", "--executor", "ray", expect=None, env={"PYTHONPATH": str(shadow.parent)})
    assert_error(proc, MissingDependencyError, "the Ray executor needs Ray, which is not installed", "cairn[ray]")
    assert {e["status"] for e in exp_repo.status().values()} == {"queued"}


def test_remotes_the_nodes_need(exp_repo, assert_error, tmp_path):
    pytest.importorskip("ray", reason="the remote checks run once Ray is found: pip install -e '.[dev]'")
    exp_repo.exp("run", "--queue", "-S", "train.lr=0.2")
    proc = exp_repo.queue("start", "--executor", "ray", expect=None)
    assert_error(
        proc,
        ClusterError,
        "the Ray executor needs a git remote the nodes can reach; this repository has no remote 'origin'",
        "git remote add origin URL",
    )
    exp_repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    proc = exp_repo.queue("start", "--executor", "ray", expect=None)
    assert_error(proc, ClusterError, "the Ray executor needs a default cairn remote", "cairn remote add -d NAME URL")
    exp_repo.cairn("remote", "add", "-d", "store", str(tmp_path / "store"))
    proc = exp_repo.queue("start", "--executor", "ray", "--address", "127.0.0.1:1", expect=None)
    assert_error(proc, ClusterUnreachableError, "no Ray cluster answers at 127.0.0.1:1", "ray start --head")
    # no cluster started on this machine (Ray looks for one under RAY_TMPDIR)
    no_cluster = {"RAY_TMPDIR": str(tmp_path / "ray-tmp")}
    proc = exp_repo.queue("start", "--executor", "ray", "--address", "auto", expect=None, env=no_cluster)
    assert_error(
        proc,
        ClusterUnreachableError,
        "cannot connect to a Ray cluster at auto: Could not find any running Ray instance",
        "ray start --head",
    )
    proc = exp_repo.queue("start", "--executor", "ray", "--address", "nowhere", expect=None)
    assert_error(proc, ClusterError, "bad cluster address 'nowhere'", "HOST:PORT")
    # something listens there, but no Ray: refused after a bounded wait (Ray's own retries forever)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = exp_repo.queue("start", "--executor", "ray", "--address", address, expect=None)
    assert_error(
        proc,
        ClusterUnreachableError,
        f"{address} answers, but not as a Ray cluster (no gRPC reply within 5 s)",
        "the address of the head node's GCS (port 6379",
    )
    assert {e["status"] for e in exp_repo.status().values()} == {"queued"}


def test_a_driver_that_dies_before_it_is_ready(exp_repo, assert_error, tmp_path):
    """The driver's connection ends its process without a word (a Ray that aborts in native
    code does): `queue start` says so and where the driver's output is."""
    shadow = tmp_path / "dying-ray" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "import os, sys\n"
        "def is_initialized():\n    return False\n"
        "def init(**kwargs):\n    print('raylet: aborted while connecting', file=sys.stderr, flush=True)\n"
        "    os._exit(134)\n"
    )
    exp_repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    exp_repo.cairn("remote", "add", "-d", "store", str(tmp_path / "store"))
    exp_repo.exp("run", "--queue", "-S", "train.lr=0.2")
    proc = exp_repo.queue("start", "--executor", "ray", expect=None, env={"PYTHONPATH": str(shadow.parent)})
    assert_error(proc, ClusterError, "the Ray driver stopped before it was ready", "(the last lines say why)")
    log = proc.stderr.split("its output is in ")[1].split(" (the last lines")[0]
    assert log.endswith("worker.log") and "raylet: aborted while connecting" in Path(log).read_text()
    assert {e["status"] for e in exp_repo.status().values()} == {"queued"}
