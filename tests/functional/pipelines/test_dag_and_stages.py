"""`cairn dag` in every format, `cairn stage add` and `cairn stage list`."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from cairn.errors import PipelineError

GRAPH = """
stages:
  prepare:
    cmd: mkdir -p data/prep && echo 1 > data/prep/x.csv
    outs: [data/prep]
  features:
    cmd: cp data/prep/x.csv feat.csv
    deps: [data/prep/x.csv]
    outs: [feat.csv]
  train:
    cmd: cat feat.csv data/prep/x.csv > model.bin
    deps: [feat.csv, data/prep]
    outs: [model.bin]
    desc: fits the model
  report:
    cmd: echo r > report.txt
    outs: [report.txt]
"""


@pytest.fixture
def graph(pipe):
    pipe.yaml(GRAPH)
    return pipe


def test_dag_text_boxes_by_default(graph):
    assert graph.cairn("dag").stdout == (
        "+---------+  +--------+\n"
        "| prepare |  | report |\n"
        "+---------+  +--------+\n"
        "      |\n"
        "      v\n"
        "+----------+\n"
        "| features |\n"
        "+----------+\n"
        "  features <- prepare\n"
        "      |\n"
        "      v\n"
        "+-------+\n"
        "| train |\n"
        "+-------+\n"
        "  train <- features, prepare\n"
    )


def test_dag_mermaid_dot_and_json(graph):
    assert graph.cairn("dag", "--mermaid").stdout.splitlines() == [
        "flowchart TD",
        '    s0["prepare"]',
        '    s1["features"]',
        '    s2["train"]',
        '    s3["report"]',
        "    s0 --> s1",
        "    s1 --> s2",
        "    s0 --> s2",
    ]
    dot = graph.cairn("dag", "--dot").stdout
    assert dot.startswith("strict digraph {\n") and dot.endswith("}\n")
    assert '    "prepare" -> "features";\n' in dot and '    "features" -> "train";\n' in dot
    assert '    "report";\n' in dot and 'report" ->' not in dot
    doc = json.loads(graph.cairn("dag", "--json").stdout)
    assert doc == {
        "nodes": ["prepare", "features", "train", "report"],
        "edges": [
            {"from": "prepare", "to": "features"},
            {"from": "features", "to": "train"},
            {"from": "prepare", "to": "train"},
        ],
    }


def test_dag_output_does_not_depend_on_the_process(graph):
    # set iteration order varies per process (string hashing); the graph must not
    outputs = {graph.cairn("dag", "--json").stdout for _ in range(4)}
    assert len(outputs) == 1


def test_dag_of_an_empty_pipeline(pipe):
    pipe.yaml("stages: {}\n")
    assert pipe.cairn("dag").stdout == "\n"
    assert json.loads(pipe.cairn("dag", "--json").stdout) == {"nodes": [], "edges": []}


def test_stage_list(graph):
    assert graph.cairn("stage", "list").stdout.splitlines() == [
        "prepare\tmkdir -p data/prep && echo 1 > data/prep/x.csv",
        "features\tcp data/prep/x.csv feat.csv",
        "train\tcat feat.csv data/prep/x.csv > model.bin\t# fits the model",
        "report\techo r > report.txt",
    ]
    listed = json.loads(graph.cairn("stage", "list", "--json").stdout)
    assert listed[2] == {
        "name": "train",
        "cmd": ["cat feat.csv data/prep/x.csv > model.bin"],
        "deps": ["feat.csv", "data/prep"],
        "outs": ["model.bin"],
        "desc": "fits the model",
    }


def test_stage_add_writes_a_stage_that_repro_runs(pipe):
    pipe.file("params.yaml", "train:\n  lr: 0.1\n")
    pipe.file("conf.json", '{"seed": 1, "opt": {"name": "adam"}}')
    pipe.file("data.csv", "x\n")
    proc = pipe.cairn(
        "stage", "add", "-n", "train", "-d", "data.csv", "-o", "model.bin", "-O", "vocab.txt",
        "-p", "train.lr", "-p", "conf.json:seed,opt.name", "-m", "metrics.json", "--plots", "loss.csv",
        "--desc", "the model",
        "--", "cp data.csv model.bin && echo v > vocab.txt && echo m > metrics.json && echo l > loss.csv",
    )  # fmt: skip
    assert proc.stdout == "Added stage 'train' to cairn.yaml. Run it with `cairn repro train`.\n"
    assert yaml.safe_load(pipe.read("cairn.yaml")) == {
        "stages": {
            "train": {
                "cmd": "cp data.csv model.bin && echo v > vocab.txt && echo m > metrics.json && echo l > loss.csv",
                "desc": "the model",
                "deps": ["data.csv"],
                "params": ["train.lr", {"conf.json": ["seed", "opt.name"]}],
                "outs": ["model.bin", {"vocab.txt": {"cache": False}}],
                "metrics": [{"metrics.json": {"cache": False}}],
                "plots": [{"loss.csv": {"cache": False}}],
            }
        }
    }
    pipe.repro()
    entry = pipe.lock()["stages"]["train"]
    assert [o["path"] for o in entry["outs"]] == ["model.bin", "vocab.txt", "metrics.json", "loss.csv"]
    assert entry["params"] == {"conf.json": {"opt.name": "adam", "seed": 1}, "params.yaml": {"train.lr": 0.1}}
    assert pipe.ignored("model.bin") and not pipe.ignored("vocab.txt") and not pipe.ignored("metrics.json")


def test_stage_add_keeps_comments_and_refuses_duplicates(pipe, assert_error):
    pipe.yaml(
        """
        # the project's pipeline
        stages:
          a:  # first
            cmd: echo a > a.txt
            outs: [a.txt]
        """
    )
    pipe.cairn("stage", "add", "-n", "b", "-d", "a.txt", "-o", "b.txt", "-w", "sub", "cat ../a.txt > b.txt")
    text = pipe.read("cairn.yaml")
    assert text.startswith("# the project's pipeline\nstages:\n  a:  # first\n")
    assert yaml.safe_load(text)["stages"]["b"] == {
        "cmd": "cat ../a.txt > b.txt",
        "wdir": "sub",
        "deps": ["a.txt"],
        "outs": ["b.txt"],
    }
    (pipe.root / "sub").mkdir()
    pipe.file("sub/a.txt", "local\n")
    pipe.repro()
    assert pipe.read("sub/b.txt") == "a\n"  # deps and outs are relative to wdir: sub/a.txt

    proc = pipe.cairn("stage", "add", "-n", "a", "-o", "z", "echo", expect=None)
    assert_error(proc, PipelineError, "stage 'a' already exists in cairn.yaml", "use --force to replace it")
    pipe.cairn("stage", "add", "-n", "a", "-f", "-o", "a.txt", "echo new > a.txt")
    assert yaml.safe_load(pipe.read("cairn.yaml"))["stages"]["a"] == {"cmd": "echo new > a.txt", "outs": ["a.txt"]}


def test_stage_add_keeps_comments_when_stages_is_not_last_and_when_replacing(pipe):
    original = """\
# the pipeline (comments, blank lines and quoting are the user's)
stages:
  a:  # writes a.txt
    cmd: echo a > a.txt
    outs: ['a.txt']

  c:
    cmd: echo c > c.txt   # c
    outs: [c.txt]

# extra metrics
metrics: [m.json]
"""
    (pipe.root / "cairn.yaml").write_text(original)
    pipe.cairn("stage", "add", "-n", "b", "-d", "a.txt", "-o", "b.txt", "cat a.txt > b.txt")
    added = "\n  b:\n    cmd: cat a.txt > b.txt\n    deps:\n    - a.txt\n    outs:\n    - b.txt\n"
    assert pipe.read("cairn.yaml") == original.replace("[c.txt]\n", "[c.txt]\n" + added)
    pipe.cairn("stage", "add", "-n", "a", "-f", "-o", "a.txt", "echo A > a.txt")
    assert pipe.read("cairn.yaml") == original.replace("[c.txt]\n", "[c.txt]\n" + added).replace(
        "  a:  # writes a.txt\n    cmd: echo a > a.txt\n    outs: ['a.txt']\n",
        "  a:\n    cmd: echo A > a.txt\n    outs:\n    - a.txt\n",
    )
    pipe.file("m.json", "{}")
    pipe.repro()
    assert pipe.read("b.txt") == "A\n"


def test_stage_add_validates_before_writing(pipe, assert_error):
    pipe.yaml("stages:\n  a:\n    cmd: echo > a.txt\n    outs: [a.txt]\n")
    before = pipe.read("cairn.yaml")
    proc = pipe.cairn("stage", "add", "-n", "b", "-o", "a.txt", "echo", expect=None)
    assert_error(proc, PipelineError, "outputs clash:")
    assert "stages 'a' and 'b' both write a.txt" in proc.stderr
    proc = pipe.cairn("stage", "add", "-n", "bad name", "echo", expect=None)
    assert_error(proc, PipelineError, "cairn.yaml has 1 problem:")
    assert "stage name 'bad name' may hold only letters" in proc.stderr
    pipe.file("data/x.csv", "1\n")
    pipe.cairn("add", "data")
    proc = pipe.cairn("stage", "add", "-n", "c", "-o", "data/y.csv", "echo", expect=None)
    assert_error(proc, PipelineError, "outputs clash:")
    assert "output data/y.csv of stage 'c' overlaps data, which is tracked with `cairn add`" in proc.stderr
    assert pipe.read("cairn.yaml") == before
    assert not list(pipe.root.glob(".cairn.yaml*"))


def test_stage_add_creates_cairn_yaml(pipe):
    pipe.cairn("stage", "add", "-n", "hello", "-o", "hello.txt", "echo", "hi", ">", "hello.txt")
    assert pipe.read("cairn.yaml") == "stages:\n  hello:\n    cmd: echo hi > hello.txt\n    outs:\n    - hello.txt\n"
    assert pipe.cairn("stage", "list").stdout == "hello\techo hi > hello.txt\n"
    pipe.repro()
    assert pipe.read("hello.txt") == "hi\n"


def test_stage_add_quotes_words_the_shell_had_split(pipe):
    # `cairn stage add -n a -o a.txt -- python -c "open('a.txt', 'w').write('A'); print('done')"`:
    # the code arrives as one word and must reach python as one word, not as `python -c open(...`
    code = "open('a.txt', 'w').write('A'); print('done')"
    pipe.cairn("stage", "add", "-n", "a", "-o", "a.txt", "--", sys.executable, "-c", code)
    assert yaml.safe_load(pipe.read("cairn.yaml"))["stages"]["a"]["cmd"] == f'{sys.executable} -c "{code}"'
    # a word with both kinds of quotes, one with a space, and operators and `$` left to the shell
    pipe.cairn(
        "stage", "add", "-n", "b", "-d", "a.txt", "-o", "b b.txt", "--",
        "printf", "%s|%s", "it's \"B\"", "$CAIRN_STAGE", ">", "b b.txt", "&&", "cat", "a.txt", ">>", "b b.txt",
    )  # fmt: skip
    # a command substitution the user quoted for later runs when the stage runs
    pipe.cairn("stage", "add", "-n", "c", "-o", "c.txt", "--", "echo", "$(echo sub stituted)", ">", "c.txt")
    proc = pipe.repro()
    assert "done" in proc.stdout
    assert pipe.read("b b.txt") == 'it\'s "B"|bA'
    assert pipe.read("c.txt") == "sub stituted\n"


def test_stage_add_takes_several_params_yaml_keys_in_one_p(pipe):
    pipe.file("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\n")
    pipe.cairn("stage", "add", "-n", "t", "-p", "train.lr,train.epochs", "-o", "m.txt", "echo m > m.txt")
    assert yaml.safe_load(pipe.read("cairn.yaml"))["stages"]["t"]["params"] == ["train.lr", "train.epochs"]
    pipe.repro()
    assert pipe.lock()["stages"]["t"]["params"] == {"params.yaml": {"train.epochs": 3, "train.lr": 0.1}}
