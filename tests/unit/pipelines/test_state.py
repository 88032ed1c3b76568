"""Staleness: the reasons a stage must run, exactly as `cairn status` shows them."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.pipelines.lock import PathState, StageLock
from cairn.pipelines.spec import Out, ParamRef, Stage
from cairn.pipelines.state import ParamReader, path_state, reasons

A, B, C = "a" * 64, "b" * 64, "c" * 64


def ps(path: str, oid: str, kind: str = "file") -> PathState:
    return PathState(path, kind, oid, 1, 1)


STAGE = Stage("train", ["python train.py"], deps=["data", "code.py"], outs=[Out("model.bin")])
LOCK = StageLock(
    ["python train.py"],
    deps=[ps("data", A, "tree"), ps("code.py", B)],
    params={"params.yaml": {"lr": 0.1, "opt": "adam", "layers": [1, 2]}},
    outs=[ps("model.bin", C)],
)
NOW_DEPS = {"data": ps("data", A, "tree"), "code.py": ps("code.py", B)}
NOW_PARAMS = {"params.yaml": {"lr": 0.1, "opt": "adam", "layers": [1, 2]}}
NOW_OUTS = {"model.bin": ps("model.bin", C)}


def why(stage=STAGE, lock=LOCK, deps=None, params=None, outs=None) -> list[str]:
    return reasons(
        stage,
        lock,
        NOW_DEPS if deps is None else deps,
        NOW_PARAMS if params is None else params,
        NOW_OUTS if outs is None else outs,
    )


def test_up_to_date():
    assert why() == []


def test_never_run_and_always_changed():
    assert why(lock=None) == ["never run"]
    always = Stage("s", ["x"], always_changed=True)
    assert why(stage=always) == ["always_changed is set"]
    assert why(stage=always, lock=None) == ["always_changed is set"]


def test_cmd_changed():
    assert why(stage=Stage("train", ["python train.py --fast"], deps=STAGE.deps, outs=STAGE.outs)) == ["cmd changed"]


def test_dependencies():
    assert why(deps={**NOW_DEPS, "data": ps("data", C, "tree")}) == ["dep data modified"]
    assert why(deps={**NOW_DEPS, "code.py": None}) == ["dep code.py missing"]
    assert why(deps={**NOW_DEPS, "new.csv": ps("new.csv", A)}) == ["dep new.csv new"]
    assert why(deps={"data": NOW_DEPS["data"]}) == ["dep code.py removed"]


def test_params():
    assert why(params={"params.yaml": {"lr": 0.2, "opt": "adam", "layers": [1, 2]}}) == ["param lr 0.1 -> 0.2"]
    assert why(params={"params.yaml": {"lr": 0.1, "opt": "sgd", "layers": [1, 2]}}) == ["param opt 'adam' -> 'sgd'"]
    assert why(params={"params.yaml": {"lr": 0.1, "opt": "adam", "layers": [1, 3]}}) == [
        "param layers [1, 2] -> [1, 3]"
    ]
    assert why(params={"params.yaml": {"lr": 0.1, "opt": "adam", "layers": [1, 2], "bs": 8}}) == ["param bs new (8)"]
    assert why(params={"params.yaml": {"lr": 0.1, "layers": [1, 2]}}) == ["param opt removed"]
    assert why(params={**NOW_PARAMS, "other.json": {"k": "v"}}) == ["param k new ('v')"]


def test_outputs():
    assert why(outs={"model.bin": None}) == ["out model.bin missing"]
    assert why(outs={"model.bin": ps("model.bin", A)}) == ["out model.bin modified"]
    assert why(outs={**NOW_OUTS, "vocab.txt": ps("vocab.txt", A)}) == ["out vocab.txt new"]


def test_all_reasons_in_order():
    assert why(
        stage=Stage("train", ["other"], deps=STAGE.deps, outs=STAGE.outs),
        deps={**NOW_DEPS, "data": ps("data", C, "tree")},
        params={"params.yaml": {"lr": 0.2, "opt": "adam", "layers": [1, 2]}},
        outs={"model.bin": None},
    ) == ["cmd changed", "dep data modified", "param lr 0.1 -> 0.2", "out model.bin missing"]


def test_param_reader(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n  layers: [4, 8]\nseed: 3\n")
    (tmp_path / "c.json").write_text('{"a": {"b": true}}')
    (tmp_path / "d.toml").write_text('name = "x"\n[sub]\nk = 1.5\n')
    reader = ParamReader(tmp_path)
    stage = Stage(
        "s",
        ["x"],
        params=[
            ParamRef("params.yaml", ["train.lr", "train.layers.1", "train"]),
            ParamRef("c.json", None),
            ParamRef("d.toml", ["sub.k"]),
        ],
    )
    assert reader.values(stage) == {
        "params.yaml": {"train.lr": 0.1, "train.layers.1": 8, "train": {"lr": 0.1, "layers": [4, 8]}},
        "c.json": {"a.b": True},
        "d.toml": {"sub.k": 1.5},
    }
    # each file is read once per command
    (tmp_path / "params.yaml").write_text("train:\n  lr: 9\n")
    assert reader.values(stage)["params.yaml"]["train.lr"] == 0.1


def test_a_missing_param_suggests_the_nearest(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    stage = Stage("s", ["x"], params=[ParamRef("params.yaml", ["train.rl"])], where="cairn.yaml:3:3")
    with pytest.raises(PipelineError) as e:
        ParamReader(tmp_path).values(stage)
    assert e.value.message == "cairn.yaml:3:3: stage 's' uses param 'train.rl', which params.yaml does not have"
    assert e.value.hint == "did you mean 'train.lr'?"
    stage.params = [ParamRef("params.yaml", ["zzz"])]
    with pytest.raises(PipelineError) as e:
        ParamReader(tmp_path).values(stage)
    assert e.value.hint == "add `zzz` to params.yaml"


def test_path_state_of_files_folders_and_missing_paths(repo, make_files):
    make_files(repo.root, {"f.txt": "hello", "d/a": "1", "d/sub/b": "2"})
    f = path_state(repo.ws, "f.txt")
    assert f is not None and (f.path, f.kind, f.size, f.files) == ("f.txt", "file", 5, 1)
    d = path_state(repo.ws, "d")
    assert d is not None and (d.kind, d.size, d.files) == ("tree", 2, 2)
    assert path_state(repo.ws, "nope") is None
    make_files(repo.root, {"d/sub/b": "3"})
    assert path_state(repo.ws, "d").oid != d.oid
