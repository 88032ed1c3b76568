"""Bad input: every refusal says what is wrong, where (file:line:col), and what to write instead."""

from __future__ import annotations

import pytest

from cairn.errors import PathError, PipelineError, StageFailedError

# -- the graph ---------------------------------------------------------------------------------


def test_a_cycle_names_the_stages_on_it(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          a:
            cmd: cp c.txt a.txt
            deps: [c.txt]
            outs: [a.txt]
          b:
            cmd: cp a.txt b.txt
            deps: [a.txt]
            outs: [b.txt]
          c:
            cmd: cp b.txt c.txt
            deps: [b.txt]
            outs: [c.txt]
          outside:
            cmd: echo > o.txt
            outs: [o.txt]
        """
    )
    for command in (["repro"], ["dag"], ["status"], ["stage", "list"]):
        proc = pipe.cairn(*command, expect=None)
        assert_error(proc, PipelineError, "the stages form a cycle: ", "cannot depend, directly or not, on its own")
        cycle = proc.stderr.split("cycle: ")[1].splitlines()[0].split(" -> ")
        assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]


def test_a_stage_depending_on_its_own_output(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          loop:
            cmd: cat x.txt > x.txt
            deps: [x.txt]
            outs: [x.txt]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "outputs clash:", "no stage may read what it writes")
    assert "  cairn.yaml:2:3: stage 'loop' depends on its own output x.txt\n" in proc.stderr
    pipe.yaml("stages:\n  s:\n    cmd: mkdir -p data/out\n    deps: [data]\n    outs: [data/out]\n")
    assert "stage 's' depends on its own output data/out" in pipe.repro(expect=2).stderr


def test_two_stages_writing_the_same_output(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          one:
            cmd: echo 1 > out.txt
            outs: [out.txt]
          two:
            cmd: echo 2 > out.txt
            metrics: [out.txt]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "outputs clash:", "every path may be written by one stage only")
    assert "  cairn.yaml:2:3: stages 'one' and 'two' both write out.txt\n" in proc.stderr


def test_an_output_inside_another_stages_output(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          all:
            cmd: mkdir -p models
            outs: [models]
          one:
            cmd: echo > models/one.bin
            outs: [models/one.bin]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "outputs clash:")
    assert "cairn.yaml:2:3: output models/one.bin lies inside output models ('all', 'one')" in proc.stderr


def test_an_output_inside_a_path_tracked_with_add(pipe, assert_error):
    pipe.file("data/raw/a.csv", "1\n")
    pipe.cairn("add", "data/raw")
    pipe.yaml(
        """
        stages:
          clean:
            cmd: echo > data/raw/clean.csv
            outs: [data/raw/clean.csv]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "outputs clash:")
    assert (
        "cairn.yaml:2:3: output data/raw/clean.csv of stage 'clean' overlaps data/raw, which is tracked with "
        "`cairn add` (remove data/raw.cairn, or change the output)"
    ) in proc.stderr
    # the same refusal for a stage that would swallow the tracked path
    pipe.yaml("stages:\n  all:\n    cmd: echo\n    outs: [data]\n")
    assert "output data of stage 'all' overlaps data/raw" in pipe.repro(expect=2).stderr


def test_a_dependency_that_nothing_produces(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          train:
            cmd: cp data/features.csv model.bin
            deps: [data/features.csv]
            outs: [model.bin]
        """
    )
    for command in ("repro", "status"):
        proc = pipe.cairn(command, expect=None)
        if command == "repro":
            assert_error(
                proc,
                PipelineError,
                "cairn.yaml:2:3: dependency data/features.csv of stage 'train' does not exist, "
                "and no stage produces it",
                "create data/features.csv, fetch it (`cairn pull`), or add a stage whose outs include it",
            )
        else:  # status reports it as the reason instead of failing
            assert "stage train: stale (cairn.yaml:2:3: dependency data/features.csv" in proc.stdout


def test_a_dependency_a_stage_will_produce_is_fine(pipe):
    pipe.yaml(
        """
        stages:
          train:
            cmd: cp features.csv model.bin
            deps: [features.csv]
            outs: [model.bin]
          featurize:
            cmd: echo f > features.csv
            outs: [features.csv]
        """
    )
    assert pipe.ran(pipe.repro()) == ["featurize", "train"]


# -- params --------------------------------------------------------------------------------------


def test_a_param_missing_from_its_file(pipe, assert_error):
    pipe.file("params.yaml", "train:\n  lr: 0.1\n")
    pipe.file("conf.json", '{"batch": 4}')
    pipe.yaml(
        """
        stages:
          train:
            cmd: echo > m.bin
            params: [train.rl]
            outs: [m.bin]
          other:
            cmd: echo > o.bin
            params:
              - conf.json: [epochs]
            outs: [o.bin]
        """
    )
    proc = pipe.repro("train", expect=None)
    assert_error(
        proc,
        PipelineError,
        "cairn.yaml:2:3: stage 'train' uses param 'train.rl', which params.yaml does not have",
        "did you mean 'train.lr'?",
    )
    proc = pipe.repro("other", expect=None)
    assert_error(
        proc, PipelineError, "stage 'other' uses param 'epochs', which conf.json does not have", "add `epochs`"
    )


def test_a_missing_or_broken_params_file(pipe, assert_error):
    pipe.yaml("stages:\n  s:\n    cmd: echo > o\n    params: [lr]\n    outs: [o]\n")
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "params file params.yaml does not exist", "create params.yaml")
    pipe.file("params.yaml", "lr: [0.1\n")
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "params.yaml:2:1: invalid YAML")
    pipe.file("params.yaml", "lr: 0.1\n")
    pipe.file("p.json", '{"lr": }')
    pipe.yaml("stages:\n  s:\n    cmd: echo > o\n    params:\n      - p.json: [lr]\n    outs: [o]\n")
    assert_error(pipe.repro(expect=None), PipelineError, "p.json:1:8: invalid JSON: Expecting value")


# -- commands ------------------------------------------------------------------------------------


def test_a_command_that_is_not_found(pipe):
    pipe.yaml("stages:\n  train:\n    cmd: no-such-trainer --fast\n    outs: [model.bin]\n")
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert "error: stage 'train' failed (command not found): no-such-trainer --fast" in proc.stderr
    tail = proc.stderr.split("last lines of its output:\n")[1]
    assert "no-such-trainer: not found" in tail
    assert not (pipe.root / "cairn.lock").exists()


def test_a_command_exiting_non_zero(pipe):
    pipe.yaml(
        """
        stages:
          train:
            cmd: echo loading; echo "oops - bad shape" >&2; exit 42
            outs: [model.bin]
        """
    )
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert "error: stage 'train' failed (exit code 42): echo loading;" in proc.stderr
    assert "  last lines of its output:\n    loading\n    oops - bad shape\n" in proc.stderr
    assert "Stage 'train': failed" in proc.stderr


def test_a_stage_that_does_not_produce_a_declared_output(pipe):
    pipe.yaml(
        """
        stages:
          train:
            cmd: echo trained > model.bin; echo finished
            outs: [model.bin, vocab.txt]
            metrics: [scores.json]
        """
    )
    proc = pipe.repro(expect=StageFailedError.exit_code)
    assert "error: stage 'train' did not produce its declared output(s): vocab.txt, scores.json" in proc.stderr
    assert "last lines of its output:\n    finished" in proc.stderr
    assert not (pipe.root / "cairn.lock").exists()
    assert pipe.expected("model.bin")[0] not in pipe.cache_oids()


def test_an_unknown_stage_name_suggests_the_nearest(pipe, assert_error):
    pipe.yaml("stages:\n  train:\n    cmd: echo > m\n    outs: [m]\n  evaluate:\n    cmd: echo > e\n    outs: [e]\n")
    assert_error(
        pipe.repro("trian", expect=None), PipelineError, "there is no stage named 'trian' in cairn.yaml", "did you mean"
    )
    assert "hint: did you mean 'train'?" in pipe.repro("trian", expect=2).stderr
    proc = pipe.repro("--single", "zzz", expect=None)
    assert_error(proc, PipelineError, "there is no stage named 'zzz'", "stages: train, evaluate")
    assert not (pipe.root / "cairn.lock").exists()


# -- cairn.yaml itself ---------------------------------------------------------------------------


def test_broken_yaml_gives_line_and_column(pipe, assert_error):
    pipe.yaml(
        """
        stages:
          train:
            cmd: echo hi
             outs: [m]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "cairn.yaml:4:10: invalid YAML: mapping values are not allowed in this context")
    # a flow list cannot hold ${...}: the YAML error says where
    pipe.yaml("stages:\n  t:\n    cmd: echo\n    outs: [${x}.txt]\n")
    assert_error(pipe.cairn("dag", expect=None), PipelineError, "cairn.yaml:4:13: invalid YAML")


def test_every_problem_is_reported_at_once_with_its_position_and_a_fix(pipe, assert_error):
    pipe.file("params.yaml", "train:\n  lr: 0.1\n")
    pipe.yaml(
        """
        stagse: {}
        stages:
          train:
            cmd: echo ${train.lr} > m
            outz: [m]
            frozen: perhaps
          sweep:
            foreach: [1, 2]
            do:
              cmd: echo ${itme} > s${item}
              dep: [m]
              outs:
                - s${item}: {cach: false}
          grid:
            matrix:
              lr: [1, 2]
            cmd: echo ${item.rl} > g${item.lr}
            outs:
              - g${item.lr}
          no_cmd:
            deps: [m]
          bad name!:
            cmd: echo
          escape:
            cmd: echo
            outs: [../outside.txt, /abs/path]
        """
    )
    proc = pipe.repro(expect=None)
    assert_error(proc, PipelineError, "cairn.yaml has 11 problems:", "see docs/pipelines.md for the format")
    problems = [ln.strip() for ln in proc.stderr.splitlines() if ln.startswith("  cairn.yaml:")]
    assert problems == [
        "cairn.yaml:1:1: unknown top-level key 'stagse' (did you mean 'stages'?)",
        "cairn.yaml:5:5: unknown stage key 'outz' (did you mean 'outs'?)",
        "cairn.yaml:6:5: `frozen` is true or false",
        "cairn.yaml:11:7: unknown stage key 'dep' (did you mean 'deps'?)",
        "cairn.yaml:10:7: cannot interpolate ${itme}: 'itme' is not defined in vars or params.yaml "
        "(did you mean 'item'?)",
        "cairn.yaml:13:22: unknown setting 'cach' for s${item} (did you mean 'cache'?)",
        "cairn.yaml:17:5: cannot interpolate ${item.rl}: 'item.rl' is not defined in vars or params.yaml "
        "(did you mean 'item.lr'?)",
        "cairn.yaml:20:3: stage 'no_cmd' needs `cmd`: a command or a list of commands",
        "cairn.yaml:22:3: stage name 'bad name!' may hold only letters, digits, '_', '-' and '.'",
        "cairn.yaml:26:12: '../outside.txt' points outside the repository",
        "cairn.yaml:26:28: '/abs/path' is an absolute path; write it relative to the stage's wdir",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: [a, b]\n", "cairn.yaml:1:1: `stages` must map stage names to stage definitions"),
        ("- a\n", "cairn.yaml:1:1: the file must be a mapping with a `stages:` key"),
        ("version: 2\nstages: {}\n", "cairn.yaml:1:1: format version 2 is not known to this cairn (it reads 1)"),
        ("stages:\n  s: echo hi\n", "cairn.yaml:2:3: a stage is a mapping with at least `cmd`"),
        (
            "stages:\n  s:\n    foreach: [1]\n    cmd: echo\n",
            "cairn.yaml:2:3: a foreach stage has exactly two keys: `foreach` (the items) and `do` (the stage)",
        ),
        ("stages:\n  s:\n    foreach: 3\n    do: {cmd: echo}\n", "cairn.yaml:3:5: foreach takes a list or a mapping"),
        ("stages:\n  s:\n    matrix: {a: []}\n    cmd: echo\n", "matrix maps names to non-empty lists of values"),
        ("stages:\n  s:\n    cmd: echo\n    deps: {a: 1}\n", "cairn.yaml:4:5: `deps` must be a list"),
        ("stages:\n  s:\n    cmd: echo\n    params: [{f.yaml: 3}]\n", "params of f.yaml are a list of keys"),
        ("vars: {a: 1}\nstages: {}\n", "cairn.yaml:1:1: `vars` must be a list of files and/or mappings"),
        ("vars: [nope.yaml]\nstages: {}\n", "cairn.yaml:1:8: params file nope.yaml does not exist"),
        (
            "vars: [{d: {x: 1}}]\nstages:\n  s:\n    cmd: echo a${d}b\n",
            "${d} is a dict; only whole values can be one",
        ),
    ],
)
def test_malformed_pipelines(pipe, assert_error, text, message):
    pipe.yaml(text)
    assert_error(pipe.repro(expect=None), PipelineError, "cairn.yaml")
    assert message in pipe.repro(expect=2).stderr


def test_no_cairn_yaml_for_dag(pipe, assert_error):
    proc = pipe.cairn("dag", expect=None)
    assert_error(proc, PathError, "there is no cairn.yaml in", "cairn stage add -n NAME -d DEP -o OUT CMD")


def test_a_damaged_lock_file(pipe, assert_error):
    pipe.yaml("stages:\n  s:\n    cmd: echo > o\n    outs: [o]\n")
    pipe.file("cairn.lock", "version: 9\nstages: {}\n")
    assert_error(pipe.repro(expect=None), PipelineError, "cairn.lock has format version 9; this cairn reads 1")
    pipe.file("cairn.lock", "version: 1\nstages:\n  s: {deps: []}\n")
    assert_error(pipe.repro(expect=None), PipelineError, "cairn.lock is damaged", "git checkout -- cairn.lock")
    pipe.file("cairn.lock", "version: 1\nstages:\n  s:\n    cmd: x\n    outs: [{path: o, kind: file, oid: xyz}]\n")
    assert_error(pipe.repro(expect=None), PipelineError, "cairn.lock is damaged (invalid oid for o)")
