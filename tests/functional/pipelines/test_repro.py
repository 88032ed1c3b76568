"""`cairn repro` and `cairn status` on real pipelines: what runs, why, what gets recorded."""

from __future__ import annotations

import json

import pytest
from importtime import PROFILE_IMPORTS, imported

from cairn.errors import PipelineError, StageFailedError

TWO_STAGES = """
stages:
  prepare:
    cmd: mkdir -p data/prepared && cp data/raw.txt data/prepared/rows.txt
    deps: [data/raw.txt]
    outs: [data/prepared]
  train:
    cmd: cat data/prepared/rows.txt > model.pkl && echo acc=0.9 > metrics.json
    deps: [data/prepared]
    params: [train.lr]
    outs: [model.pkl]
    metrics: [metrics.json]
"""


@pytest.fixture
def two(pipe):
    pipe.file("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\n")
    pipe.file("data/raw.txt", "a,b\n1,2\n")
    pipe.yaml(TWO_STAGES)
    return pipe


def test_first_run_records_the_lock_caches_outputs_and_ignores_them(two):
    assert two.stale() == {"prepare": ["never run"], "train": ["never run"]}

    proc = two.repro()
    assert two.ran(proc) == ["prepare", "train"]
    assert "Running stage 'prepare' (never run)" in proc.stderr

    lock = two.lock()
    assert list(lock) == ["version", "stages"] and lock["version"] == 2
    assert list(lock["stages"]) == ["prepare", "train"]
    prepare, train = lock["stages"]["prepare"], lock["stages"]["train"]
    assert list(train) == ["cmd", "deps", "params", "outs", "env"]
    assert prepare["cmd"] == "mkdir -p data/prepared && cp data/raw.txt data/prepared/rows.txt"
    assert train["params"] == {"params.yaml": {"train.lr": 0.1}}
    for entry, rel, kind in [
        (prepare["deps"][0], "data/raw.txt", "file"),
        (prepare["outs"][0], "data/prepared", "tree"),
        (train["deps"][0], "data/prepared", "tree"),
        (train["outs"][0], "model.pkl", "file"),
        (train["outs"][1], "metrics.json", "file"),
    ]:
        oid, size, files = two.expected(rel)  # computed without cairn
        assert entry == {"path": rel, "kind": kind, "oid": oid, "size": size, "files": files}

    # outputs are in the cache (and sound); cached outs are ignored by git, metrics are not
    cached = two.cache_oids()
    assert {two.expected("model.pkl")[0], two.expected("data/prepared")[0]} <= cached
    two.assert_cache_sound()
    assert two.ignored("model.pkl") and two.ignored("data/prepared/rows.txt")
    assert not two.ignored("metrics.json") and not two.ignored("data/raw.txt")

    assert two.stale() == {}
    again = two.repro()
    assert two.ran(again) == [] and "Everything is up to date." in again.stdout


def test_status_says_exactly_why_each_stage_is_stale(two):
    two.repro()
    two.file("params.yaml", "train:\n  lr: 0.2\n  epochs: 4\n")  # epochs is not a param of train
    two.file("data/prepared/extra.txt", "sneaked in\n")
    (two.root / "metrics.json").unlink()

    assert two.stale() == {
        "prepare": ["out data/prepared modified"],
        "train": ["dep data/prepared modified", "param train.lr 0.1 -> 0.2", "out metrics.json missing"],
    }
    human = two.cairn("status").stdout
    assert "stage prepare: stale (out data/prepared modified)" in human
    assert "stage train: stale (dep data/prepared modified; param train.lr 0.1 -> 0.2; out metrics.json missing)" in (
        human
    )
    assert two.cairn("status", "-q", expect=1).stdout == ""

    two.file("data/raw.txt", "a,b\n3,4\n")
    assert two.stale()["prepare"] == ["dep data/raw.txt modified", "out data/prepared modified"]


def test_cmd_and_declared_dep_changes_are_reasons(two):
    two.repro()
    two.yaml(TWO_STAGES.replace("model.pkl &&", "model.pkl  &&").replace("deps: [data/raw.txt]", "deps: []"))
    assert two.stale() == {"prepare": ["dep data/raw.txt removed"], "train": ["cmd changed"]}
    proc = two.repro()
    assert "Running stage 'train' (cmd changed)" in proc.stderr


def test_changed_param_reruns_only_that_stage_and_says_why(two):
    two.repro()
    two.file("params.yaml", "train:\n  lr: 0.2\n  epochs: 3\n")
    proc = two.repro()
    assert two.ran(proc) == ["train"]
    assert "Running stage 'train' (param train.lr 0.1 -> 0.2)" in proc.stderr
    assert two.lock()["stages"]["train"]["params"] == {"params.yaml": {"train.lr": 0.2}}


def test_an_upstream_change_propagates(two):
    two.repro()
    two.file("data/raw.txt", "a,b\n5,6\n")
    proc = two.repro()
    assert two.ran(proc) == ["prepare", "train"]
    assert "Running stage 'train' (dep data/prepared modified)" in proc.stderr
    assert two.read("model.pkl") == "a,b\n5,6\n"


def test_an_unchanged_upstream_result_stops_propagation(pipe):
    pipe.file("raw.txt", "b\na\n")
    pipe.yaml(
        """
        stages:
          sort:
            cmd: sort raw.txt > sorted.txt
            deps: [raw.txt]
            outs: [sorted.txt]
          count:
            cmd: wc -l < sorted.txt > count.txt
            deps: [sorted.txt]
            outs: [count.txt]
        """
    )
    pipe.repro()
    pipe.file("raw.txt", "a\nb\n")  # same sorted output
    assert pipe.ran(pipe.repro()) == ["sort"]


def test_outputs_are_removed_before_the_command_runs_unless_persist(pipe):
    pipe.yaml(
        """
        stages:
          fresh:
            cmd: test ! -e out/old.txt && mkdir -p out && echo new > out/new.txt
            outs: [out]
          log:
            cmd: echo line >> log.txt
            outs:
              - log.txt: {persist: true, desc: appended to on every run}
        """
    )
    pipe.repro()
    pipe.file("out/old.txt", "left over\n")
    pipe.repro("--force")
    assert sorted(p.name for p in (pipe.root / "out").iterdir()) == ["new.txt"]
    assert pipe.read("log.txt") == "line\nline\n"


def test_persisted_outputs_linked_to_the_cache_are_not_modified_in_place(pipe):
    # with hardlinks the workspace file *is* the cache object: appending to it would corrupt
    # the object (as root) or fail (as anyone else); cairn gives the command a private copy
    pipe.cairn("config", "--local", "cache.type", "hardlink,copy")
    pipe.yaml(
        """
        stages:
          log:
            cmd: echo line >> log.txt
            outs:
              - log.txt: {persist: true}
        """
    )
    pipe.repro()
    first = pipe.expected("log.txt")[0]
    pipe.repro("--force")
    assert pipe.read("log.txt") == "line\nline\n"
    pipe.assert_cache_sound()
    assert first in pipe.cache_oids()
    assert pipe.cairn("fsck").returncode == 0


def test_a_failure_keeps_the_stages_that_succeeded(pipe):
    pipe.yaml(
        """
        stages:
          good:
            cmd: echo good > good.txt
            outs: [good.txt]
          bad:
            cmd: echo partial > bad.txt; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 3
            deps: [good.txt]
            outs: [bad.txt]
          after:
            cmd: cp bad.txt after.txt
            deps: [bad.txt]
            outs: [after.txt]
        """
    )
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert "error: stage 'bad' failed (exit code 3): echo partial > bad.txt; for i in" in proc.stderr
    assert "  hint: fix the command and run `cairn repro` again; stages that succeeded are recorded" in proc.stderr
    assert proc.stdout.startswith("line1\n")  # the command's own output is passed through
    assert "last lines of its output:\n    line3\n" in proc.stderr  # the last 10 lines
    assert "line2\n" not in proc.stderr.split("last lines")[1]
    assert "    line12\n" in proc.stderr
    assert "not run because of the failure: after" in proc.stderr
    assert pipe.locked() == ["good"]
    assert pipe.expected("bad.txt")[0] not in pipe.cache_oids()  # the partial output is not cached
    assert not (pipe.root / "after.txt").exists()
    assert pipe.stale() == {"bad": ["never run"], "after": ["never run"]}

    # fixed, the next run picks up where it stopped
    pipe.yaml(pipe.read("cairn.yaml").replace("exit 3", "true"))
    assert pipe.ran(pipe.repro()) == ["bad", "after"]
    assert pipe.locked() == ["good", "bad", "after"]


INDEPENDENT = """
stages:
  first:
    cmd: exit 1
    outs: [first.txt]
  second:
    cmd: echo 2 > second.txt
    outs: [second.txt]
  third:
    cmd: cp second.txt third.txt
    deps: [second.txt]
    outs: [third.txt]
"""


def test_a_failure_stops_scheduling_unless_keep_going(pipe):
    pipe.yaml(INDEPENDENT)
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert pipe.ran(proc) == ["first"]
    # they do not depend on `first`: never looked at, not "because of the failure"
    assert "not run because of the failure" not in proc.stderr
    assert "not checked, the run stopped at the failure: second, third (`cairn repro --keep-going`" in proc.stderr
    assert not (pipe.root / "second.txt").exists()

    proc = pipe.repro("--keep-going", expect=StageFailedError.exit_code)  # still non-zero
    assert pipe.ran(proc) == ["first", "second", "third"]
    assert pipe.locked() == ["second", "third"]


def test_json_reports_each_failed_stages_exit_code(pipe):
    pipe.yaml(
        """
        stages:
          ok:
            cmd: echo ok > ok.txt
            outs: [ok.txt]
          three:
            cmd: echo working; exit 3
            outs: [three.txt]
          missing:
            cmd: "true"
            outs: [never.txt]
          nowhere:
            cmd: no-such-command-anywhere
            outs: [x.txt]
          killed:
            cmd: kill -9 $$
            outs: [k.txt]
          after:
            cmd: cat ok.txt three.txt > after.txt
            deps: [ok.txt, three.txt]
            outs: [after.txt]
        """
    )
    proc = pipe.repro("--json", "-k", expect=StageFailedError.exit_code)
    # the run's result is on stdout for scripts (nothing else: the commands' output is not
    # printed with --json), the error (as without --json) on stderr
    result = json.loads(proc.stdout)
    assert result["ran"] == ["ok"] and result["skipped"] == ["after"]
    assert list(result["failed"]) == ["three", "missing", "nowhere", "killed"]
    assert result["failed"]["three"].startswith("stage 'three' failed (exit code 3): echo working; exit 3")
    assert result["failed"]["killed"].startswith("stage 'killed' failed (killed by signal 9): kill -9 $$")
    # 0: the command succeeded but an output is missing; negative: killed by that signal
    assert result["exit_codes"] == {"three": 3, "missing": 0, "nowhere": 127, "killed": -9}
    assert "error: stage 'three' failed (exit code 3)" in proc.stderr

    result = json.loads(pipe.repro("--json", "-f", "-s", "ok").stdout)
    assert result["ran"] == ["ok"] and result["failed"] == {} and result["exit_codes"] == {}


def test_dry_run_says_what_would_run_and_changes_nothing(two):
    proc = two.repro("--dry")
    assert proc.stdout.splitlines() == ["would run prepare: never run", "would run train: never run"]
    assert "would run" not in proc.stderr  # said once, not also as progress
    assert not (two.root / "cairn.lock").exists() and not (two.root / "model.pkl").exists()
    two.repro()
    assert two.repro("--dry").stdout == "Everything is up to date.\n"


def test_targets_single_downstream_and_force(pipe):
    pipe.yaml(
        """
        stages:
          a:
            cmd: echo a > a.txt
            outs: [a.txt]
          b:
            cmd: cat a.txt > b.txt
            deps: [a.txt]
            outs: [b.txt]
          c:
            cmd: cat b.txt > c.txt
            deps: [b.txt]
            outs: [c.txt]
          other:
            cmd: echo o > other.txt
            outs: [other.txt]
        """
    )
    assert pipe.ran(pipe.repro("b")) == ["a", "b"]  # a target and what it needs
    assert pipe.ran(pipe.repro("--single", "c")) == ["c"]
    assert pipe.ran(pipe.repro("--force", "b")) == ["b"]  # --force applies to the targets
    # forced: the targets; what follows runs only if the forced run changed its inputs
    assert pipe.ran(pipe.repro("--force", "--downstream", "b")) == ["b"]
    pipe.file("a.txt", "edited\n")
    assert pipe.ran(pipe.repro("--downstream", "b")) == ["b", "c"]  # a is not downstream of b
    assert pipe.stale()["a"] == ["out a.txt modified"]
    assert pipe.ran(pipe.repro("--downstream")) == ["other"]  # no target: every stage
    assert sorted(pipe.ran(pipe.repro("--force"))) == ["a", "b", "c", "other"]
    assert pipe.ran(pipe.repro("-s", "--dry")) == []


def test_frozen_and_always_changed(pipe):
    pipe.yaml(
        """
        stages:
          ice:
            cmd: echo run >> ice.log; echo ice > ice.txt
            outs: [ice.txt]
          clock:
            cmd: echo tick >> clock.log; echo t > clock.txt
            always_changed: true
            outs: [clock.txt]
        """
    )
    pipe.repro()
    text = pipe.read("cairn.yaml").replace("outs: [ice.txt]", "outs: [ice.txt]\n    frozen: true")
    pipe.yaml(text)
    (pipe.root / "ice.txt").unlink()
    assert pipe.stale() == {"clock": ["always_changed is set"]}  # frozen stages are never stale
    proc = pipe.repro()
    assert pipe.ran(proc) == ["clock"] and "Stage 'ice': frozen" in proc.stderr
    assert pipe.read("clock.log") == "tick\ntick\n"  # always_changed: never from the run-cache
    assert pipe.ran(pipe.repro("--force", "ice")) == ["ice"]
    assert pipe.read("ice.log") == "run\nrun\n"


def test_wdir_command_lists_and_params_relative_to_wdir(pipe):
    pipe.file("params.yaml", "k: root\n")
    pipe.file("sub/params.yaml", "k: sub\n")
    pipe.file("sub/in.txt", "input\n")
    pipe.yaml(
        """
        stages:
          s:
            wdir: sub
            cmd:
              - echo one > out.txt
              - cat in.txt >> out.txt
              - basename "$PWD" >> out.txt
              - echo "$CAIRN_STAGE" >> out.txt
            deps: [in.txt]
            params: [k]
            outs: [out.txt]
        """
    )
    pipe.repro()
    assert pipe.read("sub/out.txt") == "one\ninput\nsub\ns\n"
    entry = pipe.lock()["stages"]["s"]
    assert entry["cmd"] == [
        "echo one > out.txt",
        "cat in.txt >> out.txt",
        'basename "$PWD" >> out.txt',
        ('echo "$CAIRN_STAGE" >> out.txt'),
    ]
    assert entry["deps"][0]["path"] == "sub/in.txt" and entry["outs"][0]["path"] == "sub/out.txt"
    assert entry["params"] == {"sub/params.yaml": {"k": "sub"}}
    assert pipe.ignored("sub/out.txt")


def test_a_failing_command_in_a_list_stops_the_list(pipe):
    pipe.yaml(
        """
        stages:
          s:
            cmd: [echo one > out.txt, "false", echo never >> out.txt]
            outs: [out.txt]
        """
    )
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert "stage 's' failed (exit code 1): false" in proc.stderr
    assert pipe.read("out.txt") == "one\n"


def test_params_from_yaml_json_toml_and_whole_files(pipe):
    pipe.file("params.yaml", "lr: 0.1\n")
    pipe.file("conf/model.json", '{"layers": {"n": 4, "act": "relu"}, "unused": 1}')
    pipe.file("conf/opt.toml", "seed = 7\n[adam]\nbeta = 0.9\n")
    pipe.file("conf/all.yaml", "x: 1\ny:\n  z: [1, 2]\n")
    pipe.yaml(
        """
        stages:
          s:
            cmd: echo ok > ok.txt
            params:
              - lr
              - conf/model.json: [layers.n, layers.act]
              - conf/opt.toml: [seed, adam.beta]
              - conf/all.yaml:
            outs: [ok.txt]
        """
    )
    pipe.repro()
    assert pipe.lock()["stages"]["s"]["params"] == {
        "conf/all.yaml": {"x": 1, "y.z": [1, 2]},
        "conf/model.json": {"layers.act": "relu", "layers.n": 4},
        "conf/opt.toml": {"adam.beta": 0.9, "seed": 7},
        "params.yaml": {"lr": 0.1},
    }
    pipe.file("conf/all.yaml", "x: 2\ny:\n  z: [1, 2]\nw: 5\n")
    pipe.file("conf/model.json", '{"layers": {"n": 4, "act": "gelu"}, "unused": 2}')
    pipe.file("conf/opt.toml", "seed = 7\n[adam]\nbeta = 0.99\n")
    assert pipe.stale() == {
        "s": ["param layers.act 'relu' -> 'gelu'", "param adam.beta 0.9 -> 0.99", "param x 1 -> 2", "param w new (5)"]
    }


def test_foreach_matrix_and_vars_generate_stages(pipe):
    pipe.file("params.yaml", "lr: 0.5\nsizes: [small, large]\n")
    pipe.file("vars.yaml", "prefix: out\n")
    pipe.yaml(
        """
        vars:
          - vars.yaml
          - greeting: hi
        stages:
          train:
            foreach: ${sizes}
            do:
              cmd: echo ${greeting} ${item} ${lr} > ${prefix}-${item}.txt
              outs:
                - ${prefix}-${item}.txt
          eval:
            matrix:
              size: [small, large]
              seed: [1, 2]
            cmd: cat ${prefix}-${item.size}.txt > eval-${item.size}-${item.seed}.txt
            deps:
              - ${prefix}-${item.size}.txt
            outs:
              - eval-${item.size}-${item.seed}.txt
          by_key:
            foreach:
              a: {n: 1}
              b: {n: 2}
            do:
              cmd: echo ${key} ${item.n} > key-${key}.txt
              outs:
                - key-${key}.txt
        """
    )
    listed = [ln.split("\t")[0] for ln in pipe.cairn("stage", "list").stdout.splitlines()]
    assert listed == [
        "train@small",
        "train@large",
        "eval@small-1",
        "eval@small-2",
        "eval@large-1",
        "eval@large-2",
        "by_key@a",
        "by_key@b",
    ]
    pipe.repro("-j", "3")
    assert pipe.read("out-large.txt") == "hi large 0.5\n"
    assert pipe.read("eval-small-2.txt") == "hi small 0.5\n"
    assert pipe.read("key-b.txt") == "b 2\n"
    assert pipe.lock()["stages"]["eval@large-1"]["deps"][0]["path"] == "out-large.txt"

    assert pipe.ran(pipe.repro("train@small", "--force")) == ["train@small"]
    pipe.file("params.yaml", "lr: 0.7\nsizes: [small, large]\n")  # interpolated into cmd
    assert set(pipe.stale()) == {"train@small", "train@large"}
    assert pipe.stale()["train@small"] == ["cmd changed"]


def test_no_pipeline(pipe):
    assert pipe.cairn("stage", "list").stdout.startswith("No stages.")
    assert pipe.cairn("status").returncode == 0
    proc = pipe.repro(expect=2)
    assert "error: there is no cairn.yaml in" in proc.stderr
    assert "cairn stage add -n NAME" in proc.stderr


def test_a_foreach_or_matrix_name_runs_every_stage_it_generates(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          prepare:
            cmd: echo data > data.txt
            outs: [data.txt]
          train:
            foreach: [small, large]
            do:
              cmd: cat data.txt > model-${item}.txt
              deps: [data.txt]
              outs:
                - model-${item}.txt
          eval:
            matrix:
              size: [small, large]
              seed: [1, 2]
            cmd: cat model-${item.size}.txt > eval-${item.size}-${item.seed}.txt
            deps:
              - model-${item.size}.txt
            outs:
              - eval-${item.size}-${item.seed}.txt
          report:
            cmd: echo r > report.txt
            outs: [report.txt]
        """
    )
    # as in DVC: the name of the foreach stage stands for all its generated stages (and upstream)
    assert pipe.ran(pipe.repro("train")) == ["prepare", "train@small", "train@large"]
    assert pipe.ran(pipe.repro("eval", "-s")) == ["eval@small-1", "eval@small-2", "eval@large-1", "eval@large-2"]
    assert pipe.ran(pipe.repro("train", "-f")) == ["train@small", "train@large"]  # forced: exactly the group
    assert pipe.ran(pipe.repro("train", "--downstream")) == []  # all up to date
    assert set(pipe.stale()) == {"report"}
    # exact names still work, and an unknown name suggests a group too
    assert pipe.ran(pipe.repro("train@large", "-f", "-s")) == ["train@large"]
    proc = pipe.repro("trian", expect=None)
    assert_error(proc, PipelineError, "there is no stage named 'trian'", "did you mean 'train'?")


def test_quiet_repro_shows_only_what_the_commands_print(pipe):
    pipe.yaml("stages:\n  hello:\n    cmd: echo hello from the stage >&2 && echo out > o.txt\n    outs: [o.txt]\n")
    proc = pipe.cairn("-q", "repro")
    assert proc.stdout == "hello from the stage\n"  # the stage's output, as it runs
    assert proc.stderr == ""  # no "Running stage" / "ran" lines of cairn's own
    assert (pipe.root / "o.txt").read_text() == "out\n"


def test_status_says_the_pipeline_is_up_to_date(pipe):
    pipe.yaml("stages:\n  hello:\n    cmd: echo out > o.txt\n    outs: [o.txt]\n")
    assert pipe.cairn("status").stdout == "stage hello: stale (never run)\nNo tracked data outside pipelines.\n"
    pipe.cairn("repro")
    assert pipe.cairn("status").stdout == "Pipeline is up to date. No tracked data outside it.\n"
    pipe.file("data.txt", "d")
    pipe.cairn("add", "data.txt")
    assert pipe.cairn("status").stdout == "data.txt: unchanged\n\nData and pipeline are up to date.\n"


def test_yaml_already_parsed_is_not_parsed_again(pipe):
    """status and repro remember what cairn.yaml, params.yaml and cairn.lock parsed to, by
    their text: with nothing changed they do not even import PyYAML; a changed file is parsed."""
    pipe.yaml(
        """
        stages:
          copy:
            cmd: cp in.txt out.txt
            deps: [in.txt]
            params: [lr]
            outs: [out.txt]
        """
    )
    pipe.file("in.txt", "x\n")
    pipe.file("params.yaml", "lr: 1\n")
    pipe.repro()
    for command in ("status", "repro"):
        proc = pipe.cairn(command, env=PROFILE_IMPORTS)
        assert "yaml" not in imported(proc), command
    pipe.file("params.yaml", "lr: 2\n")
    proc = pipe.cairn("status", env=PROFILE_IMPORTS)
    assert "yaml" in imported(proc)
    assert "stage copy: stale (param lr 1 -> 2)" in proc.stdout
    pipe.repro()
    assert "yaml" not in imported(pipe.cairn("status", env=PROFILE_IMPORTS))
