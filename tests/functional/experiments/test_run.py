"""`cairn exp run` in the workspace: overrides, the recorded commit, names, sweeps, bad input."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from cairn.errors import PipelineError, RevisionError, UserInputError

ALL_KEYS = "prepare.rows, sync.signal, sync.timeout, sync.wait, train.depth, train.lr"


def test_run_applies_overrides_and_records_a_commit_on_a_hidden_ref(exp_repo):
    head = exp_repo.git("rev-parse", "HEAD").strip()
    proc = exp_repo.exp("run", "-n", "first", "-S", "train.lr=0.05")
    assert "Experiment 'first': success" in proc.stdout
    assert "acc=0.97" in proc.stdout
    # only the stage whose params changed ran
    assert "Running stage 'train'" in proc.stderr
    assert "Running stage 'prepare'" not in proc.stderr

    # the workspace keeps the result, as after `cairn repro`
    assert exp_repo.params()["train"]["lr"] == 0.05
    assert exp_repo.metrics() == {"acc": 0.97, "loss": 0.03, "step": 1}
    assert exp_repo.read("model/weights.txt") == "lr=0.05 depth=2 rows=3\n"

    # the experiment: a commit on refs/cairn/exps/<baseline>/<name>, parent = the baseline
    ref = f"refs/cairn/exps/{head}/first"
    assert exp_repo.git("for-each-ref", "--format=%(refname)", "refs/cairn/").split() == [ref]
    assert exp_repo.git("rev-parse", f"{ref}^").strip() == head
    files = set(exp_repo.git("ls-tree", "-r", "--name-only", ref).split())
    assert {"params.yaml", "cairn.lock", "track/metrics.json", "cairn.yaml", "train.py"} <= files
    assert "model/weights.txt" not in files  # outputs live in the cache, not in git
    assert yaml.safe_load(exp_repo.show_file("first", "params.yaml"))["train"]["lr"] == 0.05
    assert json.loads(exp_repo.show_file("first", "track/metrics.json"))["acc"] == 0.97
    lock = yaml.safe_load(exp_repo.show_file("first", "cairn.lock"))["stages"]["train"]
    assert lock["params"]["params.yaml"]["train.lr"] == 0.05
    (model,) = [o for o in lock["outs"] if o["path"] == "model"]
    assert model["oid"] == exp_repo.expected("model")[0]
    assert exp_repo.object_path(model["oid"]).exists()  # the model's tree is in the cache
    exp_repo.assert_cache_sound()

    # the user's branch, HEAD and index are untouched
    assert exp_repo.git("rev-parse", "HEAD").strip() == head
    assert exp_repo.git("diff", "--cached", "--name-only") == ""

    (row,) = exp_repo.show()
    assert row["name"] == "first" and row["status"] == "success"
    assert row["params.train.lr"] == 0.05 and row["metrics.acc"] == 0.97
    assert row["baseline"] == head[:7]


def test_untracked_files_stay_out_of_the_experiment(exp_repo):
    # as in DVC: the experiment records what git tracks (changed or not) and what the pipeline
    # and cairn write, not whatever else lies around in the workspace
    exp_repo.write("notes.txt", "my private notes\n")
    exp_repo.write("scratch/big.tmp", "scratch\n")
    exp_repo.write("staged.py", "print('added to git on purpose')\n")
    exp_repo.git("add", "staged.py")
    exp_repo.write("train.py", exp_repo.read("train.py") + "# a tracked file, edited\n")
    exp_repo.write("extra/data.txt", "new data\n")
    exp_repo.cairn("add", "extra/data.txt")  # a new pointer (not yet in git) is cairn's to record
    exp_repo.exp("run", "-n", "clean", "-S", "train.lr=0.2", "-S", "+train.momentum=0.9")

    files = set(exp_repo.git("ls-tree", "-r", "--name-only", exp_repo.ref("clean")).split())
    assert "notes.txt" not in files and "scratch/big.tmp" not in files
    assert {"staged.py", "extra/data.txt.cairn", "extra/.gitignore", "params.yaml", "cairn.lock"} <= files
    assert exp_repo.show_file("clean", "train.py").endswith("# a tracked file, edited\n")
    assert yaml.safe_load(exp_repo.show_file("clean", "params.yaml"))["train"]["momentum"] == 0.9
    assert json.loads(exp_repo.show_file("clean", "track/metrics.json"))["acc"] == 0.82
    assert exp_repo.show()[0]["name"] == "clean"
    # the user's index is as it was: only staged.py is staged
    assert exp_repo.git("diff", "--cached", "--name-only").split() == ["staged.py"]
    assert exp_repo.read("notes.txt") == "my private notes\n"


def test_commit_message_carries_the_metadata(exp_repo):
    exp_repo.exp("run", "-n", "meta", "-S", "train.depth=4")
    message = exp_repo.git("log", "-1", "--format=%B", exp_repo.ref("meta"))
    first, _, body = message.partition("\n\n")
    assert first == "cairn experiment: meta"
    meta = json.loads(body)
    assert meta["version"] == 1 and meta["status"] == "success" and meta["exit_code"] == 0
    assert meta["overrides"] == ["train.depth=4"]
    assert meta["params"]["params.yaml"]["train.depth"] == 4
    assert meta["metrics"]["track/metrics.json"]["acc"] == 0.94
    assert meta["log"] and exp_repo.object_path(meta["log"]).exists()
    log = exp_repo.object_path(meta["log"]).read_text()
    assert "Running stage 'train'" in log and "trained: acc 0.94" in log


def test_generated_names_are_unique(exp_repo):
    exp_repo.exp("run")
    exp_repo.exp("run", "-S", "train.depth=3")
    # 30 more, queued (a sweep): the generator must avoid every name already taken
    exp_repo.exp("run", "-S", "train.depth=range(10,40)")
    names = list(exp_repo.listed()) + list(exp_repo.status())
    assert len(names) == 32
    assert len(set(names)) == 32
    assert all(re.fullmatch(r"[a-z]+-[a-z]+(-\d+)?", n) for n in names)


def test_stage_targets_run_only_those_stages(exp_repo):
    proc = exp_repo.exp("run", "-n", "prep", "-S", "prepare.rows=5", "prepare")
    assert "Running stage 'prepare'" in proc.stderr
    assert "Running stage 'train'" not in proc.stderr
    assert exp_repo.read("data/features.txt").count("\n") == 5
    assert exp_repo.read("model/weights.txt") == "lr=0.1 depth=2 rows=3\n"  # train did not run
    assert exp_repo.by_name()["prep"]["params.prepare.rows"] == 5


def test_sweep_queues_the_cartesian_product(exp_repo):
    before = exp_repo.snapshot()
    proc = exp_repo.exp("run", "-S", "train.lr=0.1,0.01,0.001", "-S", "train.depth=range(2,8,2)")
    assert proc.stdout.count("queued ") == 9
    assert "cairn queue start -j N" in proc.stdout
    entries = exp_repo.status()
    assert {tuple(e["overrides"]) for e in entries.values()} == {
        (f"train.lr={lr}", f"train.depth={d}") for lr in ("0.1", "0.01", "0.001") for d in (2, 4, 6)
    }
    assert all(e["status"] == "queued" for e in entries.values())
    # queuing runs nothing and writes nothing in the workspace
    assert exp_repo.snapshot() == before
    assert exp_repo.listed() == {}


def test_sweep_with_a_name_numbers_the_runs(exp_repo):
    out = json.loads(exp_repo.exp("run", "--queue", "-n", "grid", "-S", "train.lr=0.2,0.3", "--json").stdout)
    assert [(e["name"], e["overrides"], e["status"]) for e in out] == [
        ("grid-1", ["train.lr=0.2"], "queued"),
        ("grid-2", ["train.lr=0.3"], "queued"),
    ]


def test_plus_key_adds_a_param(exp_repo):
    exp_repo.exp("run", "-n", "mom", "-S", "+train.momentum=0.9", "-S", "+extra.tag=fast")
    params = exp_repo.params()
    assert params["train"]["momentum"] == 0.9 and params["extra"] == {"tag": "fast"}
    committed = yaml.safe_load(exp_repo.show_file("mom", "params.yaml"))
    assert committed["train"]["momentum"] == 0.9
    assert exp_repo.by_name()["mom"]["params.extra.tag"] == "fast"


@pytest.mark.parametrize("queue", [False, True], ids=["run", "queue"])
def test_a_params_file_an_override_creates_is_recorded_and_shown(exp_repo, queue):
    # no stage names conf/new.yaml, but its value is what this experiment changed
    args = ["--queue"] if queue else []
    exp_repo.exp("run", *args, "-n", "nf", "-S", "conf/new.yaml:+model.width=64")
    if queue:
        exp_repo.exp("run", "--run-all")
    row = exp_repo.by_name()["nf"]
    assert row["status"] == "success" and row["params.conf/new.yaml:model.width"] == 64
    assert row["params.params.yaml:train.lr"] == exp_repo.params()["train"]["lr"]


def test_the_summary_names_the_file_of_each_metric_when_there_are_several(exp_repo):
    exp_repo.write("eval.json", '{"acc": 0.5}')
    exp_repo.write("cairn.yaml", "metrics: [eval.json]\n" + exp_repo.read("cairn.yaml"))
    exp_repo.commit("a second metrics file")
    proc = exp_repo.exp("run", "-n", "two", "-S", "train.lr=0.05")
    # not `acc=0.97, loss=0.03, step=1, acc=0.5`: two accs, and which is which?
    assert "Experiment 'two': success (eval.json:acc=0.5, track/metrics.json:acc=0.97" in proc.stdout


def test_values_are_typed_like_yaml_and_exponents_are_numbers(exp_repo):
    exp_repo.exp("run", "-n", "typed", "-S", "train.lr=1e-3", "-S", "+train.name=resnet", "-S", "+train.aug=true")
    exp_repo.exp("run", "--queue", "-n", "typed-q", "-S", "train.lr=0.00001", "-S", '+train.tag="a,b"')
    exp_repo.exp("run", "--run-all")
    rows = exp_repo.by_name()
    assert rows["typed"]["params.train.lr"] == 0.001
    assert rows["typed"]["params.train.name"] == "resnet" and rows["typed"]["params.train.aug"] is True
    # through the queue too: a small float stays a float, a quoted "a,b" stays one string
    assert rows["typed-q"]["params.train.lr"] == 0.00001
    assert rows["typed-q"]["params.train.tag"] == "a,b"
    assert rows["typed-q"]["status"] == "success"


@pytest.mark.parametrize("queue", [False, True], ids=["run", "queue"])
def test_override_of_an_unknown_key_says_which_keys_exist(exp_repo, assert_error, queue):
    before = exp_repo.snapshot()
    proc = exp_repo.exp("run", *(["--queue"] if queue else []), "-S", "train.lrr=0.1", expect=None)
    assert_error(
        proc,
        UserInputError,
        f"params.yaml has no param 'train.lrr' (it has: {ALL_KEYS})",
        "fix the name, or add a new key with -S +train.lrr=...",
    )
    assert exp_repo.snapshot() == before
    assert exp_repo.listed() == {} and exp_repo.status() == {}


@pytest.mark.parametrize(
    ("spec", "message", "hint"),
    [
        ("train.lr=[0.1", "cannot parse the value in 'train.lr=[0.1'", "write a number, true/false, a string"),
        ("train.lr={a: ", "cannot parse the value in 'train.lr={a: '", "YAML list like [1, 2]"),
        ("train.lr", "cannot read the override 'train.lr'", "write KEY=VALUE, e.g. -S train.lr=0.01"),
        ("=3", "cannot read the override '=3'", "write KEY=VALUE"),
        ("train.depth=range(2,8,0)", "range step is 0 in 'train.depth=range(2,8,0)'", "use a non-zero step"),
        ("train.depth=range(8,2)", "range(8,2) is empty in 'train.depth=range(8,2)'", "check start, stop and step"),
        ("train.lr.x=1", "params.yaml has no param 'train.lr.x'", None),
        ("+train.lr.x=1", "cannot set 'train.lr.x': 'lr' is not a mapping", "override a leaf key"),
        (":train.lr=1", "no params file before ':' in ':train.lr=1'", "write FILE:KEY=VALUE, or KEY=VALUE"),
    ],
)
def test_bad_override_values(exp_repo, assert_error, spec, message, hint):
    before = exp_repo.snapshot()
    assert_error(exp_repo.exp("run", "-S", spec, expect=None), UserInputError, message, hint)
    assert exp_repo.snapshot() == before
    assert exp_repo.listed() == {}


@pytest.mark.parametrize("file", ["../outside.yaml", "conf/../../outside.yaml", "/tmp/cairn-outside.yaml"])
def test_an_override_cannot_write_outside_the_repository(exp_repo, assert_error, file):
    outside = (exp_repo.root / file).resolve()
    before = exp_repo.snapshot()
    for queue in ([], ["--queue"]):
        proc = exp_repo.exp("run", *queue, "-S", f"+{file}:a=1", expect=None)
        assert_error(
            proc,
            UserInputError,
            f"the params file {file!r} of '+{file}:a=1' is outside the repository",
            "name a file inside the repository, relative to its root",
        )
    assert not outside.exists()
    assert exp_repo.snapshot() == before and exp_repo.listed() == {} and exp_repo.status() == {}


def test_a_name_already_taken_is_refused(exp_repo, assert_error):
    exp_repo.exp("run", "-n", "taken")
    for args in (["run", "-n", "taken"], ["run", "--queue", "-n", "taken"]):
        assert_error(
            exp_repo.exp(*args, "-S", "train.lr=0.2", expect=None),
            UserInputError,
            "an experiment named 'taken' already exists",
            "choose another name, or `cairn exp remove` the old one",
        )
    exp_repo.exp("run", "--queue", "-n", "queued-one")
    assert_error(exp_repo.exp("run", "-n", "queued-one", expect=None), UserInputError, "'queued-one' already exists")
    # the refused runs changed nothing: the first experiment's params are still in the workspace
    assert exp_repo.params()["train"]["lr"] == 0.1


@pytest.mark.parametrize("name", ["bad name", "-dash", "a..b", "x.lock", "a/b"])
def test_invalid_names_are_refused(exp_repo, assert_error, name):
    proc = exp_repo.exp("run", "-n", name, "--queue", expect=None)
    # the hint states the whole rule: `9lives` is valid, so "starting with a letter" misled
    hint = "use letters, digits, '-', '_' and '.', starting with a letter or digit (no '..', not ending in '.lock')"
    assert_error(proc, UserInputError, f"{name!r} is not a valid experiment name", hint)


def test_a_failing_stage_is_recorded_as_failed(exp_repo):
    proc = exp_repo.exp("run", "-n", "diverged", "-S", "train.lr=-1", expect=1)
    assert "Experiment 'diverged': failed" in proc.stdout
    assert "stage 'train' failed (exit code 3)" in proc.stderr
    assert "diverged: lr=-1 must be positive" in proc.stderr
    row = exp_repo.by_name()["diverged"]
    assert row["status"] == "failed" and row["exit_code"] == 3 and row["params.train.lr"] == -1
    message = json.loads(exp_repo.git("log", "-1", "--format=%B", exp_repo.ref("diverged")).split("\n\n", 1)[1])
    assert message["exit_code"] == 3 and "exit code 3" in message["error"]  # the stage's own, not 1
    table = exp_repo.exp("show", "--md").stdout
    assert "| diverged |" in table and "| failed (exit code 3) |" in table
    assert "diverged: lr=-1 must be positive" in exp_repo.object_path(message["log"]).read_text()


def test_a_repository_without_commits_has_no_baseline(git_repo, run_cairn, assert_error):
    run_cairn("init", cwd=git_repo)
    (git_repo / "cairn.yaml").write_text("stages:\n  s:\n    cmd: echo hi\n")
    assert_error(
        run_cairn("exp", "run", cwd=git_repo, expect=None),
        RevisionError,
        "the repository has no commits yet; experiments need a baseline commit",
        "git add -A && git commit",
    )


def test_a_project_without_a_pipeline_is_refused_not_recorded(repo, assert_error):
    for args in (["run"], ["run", "--queue"]):
        assert_error(
            repo.cairn("exp", *args, expect=None), UserInputError, "there is no cairn.yaml in", "cairn stage add"
        )
    assert repo.git("for-each-ref", "refs/cairn/") == ""


@pytest.mark.parametrize("queue", [False, True], ids=["run", "queue"])
def test_an_unknown_stage_is_refused_not_recorded(exp_repo, assert_error, queue):
    before = exp_repo.snapshot()
    proc = exp_repo.exp("run", *(["--queue"] if queue else []), "-S", "train.lr=0.2", "trian", expect=None)
    assert_error(proc, PipelineError, "there is no stage named 'trian' in cairn.yaml", "did you mean 'train'?")
    assert exp_repo.snapshot() == before
    assert exp_repo.listed() == {} and exp_repo.status() == {}
