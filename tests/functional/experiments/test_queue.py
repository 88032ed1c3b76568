"""The persistent queue: `exp run --queue`, `exp run --run-all`, `queue start|status|logs|kill|
remove|stop`, runs in temporary workspaces, parallelism, failures and killed processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import yaml

from cairn.errors import UserInputError


def sync(signal_file=None, wait_file=None, timeout=None) -> list[str]:
    """-S overrides making the train stage create `signal_file` and wait for `wait_file`."""
    out = []
    if signal_file is not None:
        out += ["-S", f"sync.signal={signal_file}"]
    if wait_file is not None:
        out += ["-S", f"sync.wait={wait_file}"]
    if timeout is not None:
        out += ["-S", f"sync.timeout={timeout}"]
    return out


def test_queue_persists_and_run_all_runs_it_without_touching_the_workspace(exp_repo):
    exp_repo.write("notes.txt", "uncommitted work in progress\n")  # the user's unsaved work
    before = exp_repo.snapshot()
    exp_repo.exp("run", "--queue", "-n", "q", "-S", "train.lr=0.2,0.3", "-S", "train.depth=6")
    assert (exp_repo.root / ".cairn" / "state" / "queue.db").is_file()
    # every command is a new process: the queue is on disk, not in memory
    assert {n: e["status"] for n, e in exp_repo.status().items()} == {"q-1": "queued", "q-2": "queued"}
    text = exp_repo.queue("status").stdout
    assert re.search(r"^q-1\tqueued\ttrain.lr=0.2 train.depth=6$", text, re.M), text

    proc = exp_repo.exp("run", "--run-all", "-j", "2")
    assert sorted(proc.stdout.splitlines()) == ["q-1: success", "q-2: success"]
    assert exp_repo.snapshot() == before  # byte for byte, the uncommitted file included

    entries = exp_repo.status()
    assert all(e["status"] == "success" and e["exit_code"] == 0 for e in entries.values())
    rows = exp_repo.by_name()
    assert (rows["q-1"]["params.train.lr"], rows["q-1"]["metrics.acc"]) == (0.2, 0.86)
    assert (rows["q-2"]["params.train.lr"], rows["q-2"]["metrics.acc"]) == (0.3, 0.76)
    # each recorded like a workspace run: params, lock with the model in the cache
    lock = yaml.safe_load(exp_repo.show_file("q-2", "cairn.lock"))["stages"]["train"]
    assert lock["params"]["params.yaml"]["train.lr"] == 0.3
    (model,) = [o for o in lock["outs"] if o["path"] == "model"]
    assert exp_repo.object_path(model["oid"]).exists()
    assert "notes.txt" not in exp_repo.git("ls-tree", "-r", "--name-only", exp_repo.ref("q-2"))
    # the temporary workspaces are gone
    assert not any((exp_repo.root / ".cairn" / "tmp" / "exps").glob("*"))

    exp_repo.assert_cache_sound()


def test_run_all_and_queue_start_with_nothing_queued(exp_repo, assert_error):
    for args in (["exp", "run", "--run-all"], ["queue", "start"]):
        assert_error(
            exp_repo.cairn(*args, expect=None),
            UserInputError,
            "nothing is queued",
            "queue experiments with `cairn exp run --queue -S KEY=VALUE`",
        )
    # finished entries do not count
    exp_repo.exp("run", "--queue", "-n", "once")
    exp_repo.exp("run", "--run-all")
    assert_error(exp_repo.cairn("queue", "start", expect=None), UserInputError, "nothing is queued")


def test_queue_start_runs_in_parallel_in_the_background(exp_repo, markers):
    """a and b each wait for the file the other creates: both can only succeed side by side."""
    a, b = markers / "a", markers / "b"
    exp_repo.exp("run", "--queue", "-n", "a", "-S", "train.lr=0.2", *sync(a, b, timeout=20))
    exp_repo.exp("run", "--queue", "-n", "b", "-S", "train.lr=0.3", *sync(b, a, timeout=20))
    exp_repo.exp("run", "--queue", "-n", "c", "-S", "train.lr=0.4")
    before = exp_repo.snapshot()

    proc = exp_repo.queue("start", "-j", "2")
    assert re.fullmatch(r"Queue worker started \(pid \d+, 2 at a time\)\. .*\n", proc.stdout)
    # `queue start` returns at once; the worker goes on in the background
    entries = exp_repo.wait_queue()
    assert {n: e["status"] for n, e in entries.items()} == {"a": "success", "b": "success", "c": "success"}
    assert exp_repo.snapshot() == before
    rows = exp_repo.by_name()
    assert {n: rows[n]["metrics.acc"] for n in "abc"} == {"a": 0.82, "b": 0.72, "c": 0.62}
    assert "trained: acc 0.82" in exp_repo.queue("logs", "a").stdout


def test_one_at_a_time_the_waiting_pair_cannot_both_finish(exp_repo, markers):
    """The counter-check of the parallel test: with -j 1, a gives up waiting for b."""
    a, b = markers / "a", markers / "b"
    exp_repo.exp("run", "--queue", "-n", "a", *sync(a, b, timeout=1))
    exp_repo.exp("run", "--queue", "-n", "b", "-S", "train.lr=0.3", *sync(b, a, timeout=20))
    proc = exp_repo.exp("run", "--run-all", "-j", "1", expect=1)
    assert proc.stdout.splitlines()[0].startswith("a: failed (stage 'train' failed (exit code 4)")
    assert proc.stdout.splitlines()[-1] == "b: success"


def test_a_failed_experiment_is_recorded_and_the_others_go_on(exp_repo):
    exp_repo.exp("run", "--queue", "-n", "bad", "-S", "train.lr=-1")
    exp_repo.exp("run", "--queue", "-n", "good", "-S", "train.lr=0.2")
    proc = exp_repo.exp("run", "--run-all", expect=1)
    assert "bad: failed (stage 'train' failed (exit code 3)" in proc.stdout
    assert "good: success" in proc.stdout

    entries = exp_repo.status()
    assert entries["bad"]["status"] == "failed" and entries["bad"]["exit_code"] == 3  # the stage's
    assert "stage 'train' failed (exit code 3)" in entries["bad"]["error"]
    assert entries["good"]["status"] == "success"
    text = exp_repo.queue("status").stdout
    assert re.search(r"^bad\tfailed [\d.]+s \(exit code 3\)\ttrain.lr=-1\tstage 'train' failed", text, re.M)
    log = exp_repo.queue("logs", "bad").stdout
    assert "diverged: lr=-1 must be positive" in log
    rows = exp_repo.by_name()
    assert rows["bad"]["status"] == "failed" and rows["good"]["status"] == "success"
    assert (rows["bad"]["exit_code"], rows["good"]["exit_code"]) == (3, 0)


def test_a_stage_killed_by_a_signal_is_recorded_with_it(exp_repo):
    exp_repo.write("cairn.yaml", "stages:\n  boom:\n    cmd: kill -9 $$\n    params: [train.lr]\n")
    exp_repo.commit("a stage that kills itself")
    exp_repo.exp("run", "--queue", "-n", "queued", "-S", "train.lr=0.2")
    exp_repo.exp("run", "--run-all", expect=1)
    exp_repo.exp("run", "-n", "here", "-S", "train.lr=0.3", expect=1)

    assert exp_repo.status()["queued"]["exit_code"] == -9
    assert re.search(r"^queued\tfailed [\d.]+s \(killed by signal 9\)\t", exp_repo.queue("status").stdout, re.M)
    rows = exp_repo.by_name()
    assert (rows["queued"]["exit_code"], rows["here"]["exit_code"]) == (-9, -9)
    table = exp_repo.exp("show", "--md", "--sort-by", "name").stdout.splitlines()
    assert [line.split(" | ")[3] for line in table[2:]] == ["failed (killed by signal 9)"] * 2


def test_status_logs_follow_live_metrics_and_kill(exp_repo, markers, start_cairn):
    started, never = markers / "k.pid", markers / "never"
    exp_repo.exp("run", "--queue", "-n", "k", "-S", "train.lr=0.25", *sync(started, never))
    exp_repo.exp("run", "--queue", "-n", "next", "-S", "train.lr=0.2")
    exp_repo.queue("start")
    exp_repo.wait_until(started.exists, what="the stage to start")
    stage_pid = int(started.read_text())

    entry = exp_repo.status()["k"]
    assert entry["status"] == "running"
    assert entry["live"] == {"acc": 0.77, "loss": 0.23, "step": 1}  # what cairn.track logged so far
    assert re.search(
        r"^k\trunning \(running \d+s\)\ttrain.lr=0.25 .*\t\[acc=0.77 loss=0.23 step=1\]$",
        exp_repo.queue("status").stdout,
        re.M,
    )
    assert "trained: acc 0.77" in exp_repo.queue("logs", "k").stdout

    follow = start_cairn("queue", "logs", "k", "--follow", cwd=exp_repo.root)
    try:
        exp_repo.wait_until(lambda: follow.poll() is None, 1)
        assert follow.poll() is None  # still following: the experiment runs
        assert exp_repo.queue("kill", "k").stdout == "Killed 'k'.\n"
        out, _ = follow.communicate(timeout=20)  # --follow ends when the experiment does
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 0
    assert "trained: acc 0.77" in out

    # the stage's own process is stopped with it, and the queue goes on
    exp_repo.wait_until(lambda: not exp_repo.pid_running(stage_pid), 15, "the stage to stop")
    entries = exp_repo.wait_queue()
    assert entries["k"]["status"] == "killed"
    assert entries["k"]["error"] == "killed with `cairn queue kill`"
    assert entries["next"]["status"] == "success"
    row = exp_repo.by_name()["k"]
    assert row["status"] == "killed" and row["params.train.lr"] == 0.25  # recorded, with its params
    assert not (exp_repo.root / ".cairn" / "tmp" / "exps" / "k").exists()


def test_queue_kill_and_logs_refuse_what_is_not_running(exp_repo, assert_error):
    exp_repo.exp("run", "--queue", "-n", "waiting")
    assert_error(
        exp_repo.queue("kill", "waiting", expect=None),
        UserInputError,
        "'waiting' is not running (it is queued)",
        "`cairn queue remove` drops queued ones",
    )
    for args in (["kill", "nope"], ["logs", "nope"]):
        assert_error(
            exp_repo.queue(*args, expect=None),
            UserInputError,
            "no queued experiment named 'nope'",
            "see `cairn queue status`",
        )
    assert exp_repo.queue("logs", "waiting").stdout == ""  # queued: no log yet
    exp_repo.exp("run", "--run-all")
    assert_error(
        exp_repo.queue("kill", "waiting", expect=None),
        UserInputError,
        "'waiting' is not running (it is success)",
        "it has ended: `cairn queue logs waiting` shows its output",
    )


def test_an_experiment_process_killed_with_kill_9_is_marked_failed(exp_repo, markers):
    started = markers / "w.pid"
    exp_repo.exp("run", "--queue", "-n", "w", *sync(started, markers / "never", timeout=20))
    exp_repo.exp("run", "--queue", "-n", "after", "-S", "train.lr=0.2")
    exp_repo.queue("start")
    exp_repo.wait_until(started.exists, what="the stage to start")
    stage_pid = int(started.read_text())
    try:
        os.kill(exp_repo.status()["w"]["pid"], signal.SIGKILL)
        entries = exp_repo.wait_queue()
    finally:
        if exp_repo.pid_running(stage_pid):
            os.kill(stage_pid, signal.SIGKILL)  # see test_kill_9_stops_the_stage_too
    assert entries["w"]["status"] == "failed"
    assert entries["w"]["exit_code"] == -9
    assert entries["w"]["error"] == "its process was killed by signal 9"
    assert entries["after"]["status"] == "success"  # the others go on
    # its temporary workspace is removed by the worker, which saw it die
    assert not (exp_repo.root / ".cairn" / "tmp" / "exps" / "w").exists()


def test_a_dead_worker_and_experiment_leave_nothing_stuck_as_running(exp_repo, markers):
    started = markers / "x.pid"
    exp_repo.exp("run", "--queue", "-n", "x", *sync(started, markers / "never", timeout=20))
    exp_repo.exp("run", "--queue", "-n", "later", "-S", "train.lr=0.2")
    worker = int(re.search(r"pid (\d+)", exp_repo.queue("start").stdout).group(1))
    exp_repo.wait_until(started.exists, what="the stage to start")
    stage_pid = int(started.read_text())
    try:
        os.kill(worker, signal.SIGKILL)
        os.kill(exp_repo.status()["x"]["pid"], signal.SIGKILL)
        exp_repo.wait_until(lambda: exp_repo.status()["x"]["status"] != "running", 10, "x to be reaped")
    finally:
        if exp_repo.pid_running(stage_pid):
            os.kill(stage_pid, signal.SIGKILL)
    entries = exp_repo.status()
    assert entries["x"]["status"] == "failed"
    assert entries["x"]["error"] == "its process died (killed or crashed) before finishing"
    assert entries["later"]["status"] == "queued"  # not lost: a new worker runs it
    # no worker saw it die: `queue status`, which marked it failed, removed its workspace
    assert not (exp_repo.root / ".cairn" / "tmp" / "exps" / "x").exists()
    exp_repo.queue("start")
    assert exp_repo.wait_queue()["later"]["status"] == "success"


def test_leftover_workspaces_go_and_a_live_one_stays(exp_repo, markers):
    """`queue status` deletes temporary workspaces no live experiment uses (here: one whose
    entry was removed); the workspace of the experiment running meanwhile is left alone."""
    exps = exp_repo.root / ".cairn" / "tmp" / "exps"
    leftover = exps / "gone"
    (leftover / "model").mkdir(parents=True)
    (leftover / "model" / "weights.txt").write_text("half written\n")
    started, go = markers / "live.pid", markers / "go"
    exp_repo.exp("run", "--queue", "-n", "live", "-S", "train.lr=0.2", *sync(started, go, timeout=20))
    exp_repo.queue("start")
    exp_repo.wait_until(started.exists, what="the stage to start")

    assert exp_repo.status()["live"]["status"] == "running"
    assert not leftover.exists()
    assert (exps / "live" / "params.yaml").is_file() and (exps / "live" / "data" / "features.txt").is_file()
    go.touch()
    assert exp_repo.wait_queue()["live"]["status"] == "success"
    assert exp_repo.by_name()["live"]["metrics.acc"] == 0.82  # its run was not disturbed


def test_run_all_forks_its_experiments_or_starts_cairn_when_unsafe(exp_repo, tmp_path):
    """The runner forks a child calling the CLI's run-queued code (no new interpreter), and
    falls back to starting `cairn exp run-queued NAME` when another thread runs (a fork would
    inherit that thread's locks) or an SQLite database is open (its state must not be
    inherited)."""
    script = tmp_path / "run_all.py"
    script.write_text(
        "import os, sys, threading\n"
        "from cairn.cli.exp import _run_queued_here\n"
        "from cairn.repo import Repo\n"
        "from cairn.repo.experiments import Experiments\n"
        "def run_child(name):\n"
        "    open(sys.argv[1], 'w').write(f'{os.getppid()}')\n"
        "    return _run_queued_here(name)\n"
        "if sys.argv[2] == 'thread':\n"
        "    threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        "if sys.argv[2] == 'sqlite':\n"
        "    from cairn.experiments.queue import Queue\n"
        "    db = Queue(Repo.find().dot / 'state' / 'queue.db')\n"
        "print(os.getpid(), Experiments(Repo.find()).run_all(1, run_child))\n"
    )
    for name, mode in (("forked", "none"), ("started", "thread"), ("also-started", "sqlite")):
        exp_repo.exp("run", "--queue", "-n", name, "-S", "train.lr=0.2")
        marker = tmp_path / f"{name}.ppid"
        proc = subprocess.run(
            [sys.executable, str(script), str(marker), mode], cwd=exp_repo.root, capture_output=True, text=True
        )
        pid, results = proc.stdout.split(" ", 1)
        assert proc.returncode == 0 and results == f"{{'{name}': 'success'}}\n", proc.stderr
        if mode == "none":
            assert marker.read_text() == pid  # run_child ran in a child of the runner
        else:
            assert not marker.exists()  # not called: a new program ran the experiment
        assert f"Experiment '{name}': success" in exp_repo.queue("logs", name).stdout
    assert {n: r["metrics.acc"] for n, r in exp_repo.by_name().items()} == dict.fromkeys(
        ["forked", "started", "also-started"], 0.82
    )


def test_kill_9_stops_the_stage_too(exp_repo, markers):
    started = markers / "o.pid"
    exp_repo.exp("run", "--queue", "-n", "o", *sync(started, markers / "never", timeout=20))
    exp_repo.queue("start")
    exp_repo.wait_until(started.exists, what="the stage to start")
    stage_pid = int(started.read_text())
    try:
        os.kill(exp_repo.status()["o"]["pid"], signal.SIGKILL)
        exp_repo.wait_queue()
        exp_repo.wait_until(lambda: not exp_repo.pid_running(stage_pid), 3, "the orphaned stage to stop")
    finally:
        if exp_repo.pid_running(stage_pid):
            os.kill(stage_pid, signal.SIGKILL)


def test_queue_remove(exp_repo, assert_error):
    exp_repo.exp("run", "--queue", "-n", "r", "-S", "train.lr=0.2,0.3,0.4")
    assert exp_repo.queue("remove", "r-2").stdout == "Removed 1 entry.\n"
    assert list(exp_repo.status()) == ["r-1", "r-3"]
    # a typo is an error, as for `queue kill` and `exp remove`, and removes none of the others
    proc = exp_repo.queue("remove", "r-1", "nope", expect=None)
    assert_error(proc, UserInputError, "no queued experiment named 'nope'", "see `cairn queue status`")
    assert list(exp_repo.status()) == ["r-1", "r-3"]
    assert exp_repo.queue("remove", "--all").stdout == "Removed 2 entries.\n"
    assert exp_repo.status() == {}
    assert exp_repo.queue("status").stdout == "The queue is empty.\n"
    assert_error(exp_repo.queue("remove", expect=None), UserInputError, "name the entries to remove", "--all")
    # a removed entry's name is free again
    exp_repo.exp("run", "--queue", "-n", "r-2")


def test_queue_stop_lets_the_running_experiment_finish_and_starts_nothing_new(exp_repo, markers, assert_error):
    started, go = markers / "s.pid", markers / "go"
    exp_repo.exp("run", "--queue", "-n", "s", *sync(started, go, timeout=20))
    exp_repo.exp("run", "--queue", "-n", "t", "-S", "train.lr=0.2")
    worker = int(re.search(r"pid (\d+)", exp_repo.queue("start").stdout).group(1))
    exp_repo.wait_until(started.exists, what="the stage to start")
    assert_error(
        exp_repo.queue("start", expect=None), UserInputError, f"a queue worker is already running (pid {worker})"
    )

    assert exp_repo.queue("stop").stdout == f"Worker {worker} will stop after its running experiments.\n"
    go.touch()
    exp_repo.wait_until(lambda: not exp_repo.pid_running(worker), 20, "the worker to stop")
    entries = exp_repo.status()
    assert entries["s"]["status"] == "success"
    assert entries["t"]["status"] == "queued"  # stays queued for the next start
    assert exp_repo.queue("stop").stdout == "No queue worker is running.\n"

    exp_repo.queue("start")
    assert exp_repo.wait_queue()["t"]["status"] == "success"


def test_queue_status_json_fields(exp_repo):
    exp_repo.exp("run", "--queue", "-n", "j", "-S", "+train.momentum=0.9", "train")
    (entry,) = json.loads(exp_repo.queue("status", "--json").stdout)
    head = exp_repo.git("rev-parse", "HEAD").strip()
    assert entry["name"] == "j" and entry["status"] == "queued" and entry["baseline"] == head
    assert entry["overrides"] == ["+train.momentum=0.9"] and entry["targets"] == ["train"]
    assert entry["live"] == {} and entry["exit_code"] is None


def test_a_queued_run_records_new_files_of_an_uncached_output_folder(exp_repo):
    """track/plots is an uncached output folder: a series the baseline did not have goes into the
    experiment's commit (and comes back with apply)."""
    exp_repo.exp("run", "--queue", "-n", "f1", "-S", "train.lr=0.2", "-S", "+train.extra_metric=f1")
    exp_repo.exp("run", "--run-all")
    assert exp_repo.show_file("f1", "track/plots/metrics/f1.tsv") == "step\tf1\n1\t1.0\n"
    exp_repo.exp("apply", "f1")
    assert exp_repo.read("track/plots/metrics/f1.tsv") == "step\tf1\n1\t1.0\n"


def test_a_params_file_an_override_creates_is_recorded_queued_or_not(exp_repo):
    exp_repo.exp("run", "--queue", "-n", "q", "-S", "+conf/extra.yaml:opt.beta=0.5")
    exp_repo.exp("run", "--run-all")
    exp_repo.exp("run", "-n", "w", "-S", "+conf/extra.yaml:opt.beta=0.7")
    assert yaml.safe_load(exp_repo.show_file("q", "conf/extra.yaml")) == {"opt": {"beta": 0.5}}
    assert yaml.safe_load(exp_repo.show_file("w", "conf/extra.yaml")) == {"opt": {"beta": 0.7}}


def test_ctrl_c_on_run_all_stops_and_records_the_running_experiment(exp_repo, markers, start_cairn):
    started = markers / "c.pid"
    exp_repo.exp("run", "--queue", "-n", "c", *sync(started, markers / "never", timeout=20))
    exp_repo.exp("run", "--queue", "-n", "d", "-S", "train.lr=0.2")
    proc = start_cairn("exp", "run", "--run-all", cwd=exp_repo.root)
    try:
        exp_repo.wait_until(started.exists, what="the stage to start")
        stage_pid = int(started.read_text())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    exp_repo.wait_until(lambda: not exp_repo.pid_running(stage_pid), 15, "the stage to stop")
    entries = exp_repo.status()
    assert entries["c"]["status"] == "killed" and entries["c"]["error"] == "stopped with Ctrl-C"
    assert entries["d"]["status"] == "queued"  # not started: it runs with the next start
    exp_repo.wait_until(lambda: "c" in exp_repo.listed(), 10, "c to be recorded")
    assert exp_repo.listed()["c"]["status"] == "killed"
