"""cairn.yaml parsing: stage fields, paths, params, interpolation, foreach / matrix, validation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cairn.errors import PipelineError
from cairn.pipelines.spec import Out, ParamRef, Pipeline, build, load_pipeline
from cairn.pipelines.yamlfile import parse


def pipeline(root: Path, text: str, **files: str) -> Pipeline:
    for name, content in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return build(parse(textwrap.dedent(text).lstrip("\n"), "cairn.yaml"), root)


def problems(root: Path, text: str, **files: str) -> list[str]:
    with pytest.raises(PipelineError) as e:
        pipeline(root, text, **files)
    assert e.value.problems, e.value.message
    assert e.value.message.startswith(f"cairn.yaml has {len(e.value.problems)} problem")
    return e.value.problems


# -- stages --------------------------------------------------------------------------------------


def test_a_full_stage(tmp_path):
    p = pipeline(
        tmp_path,
        """
        stages:
          train:
            cmd: python train.py
            wdir: src
            desc: fits it
            deps: [data.csv, ../shared/lib.py]
            params: [lr, {conf.json: [a, b.c]}, {../all.toml: }]
            outs:
              - model.bin
              - cache/: {persist: true, cache: true, desc: scratch}
            metrics:
              - m.json
              - big.json: {cache: true}
            plots:
              - loss.csv: {x: step, y: loss, title: Loss}
            frozen: true
            always_changed: false
            meta: {owner: me}
        """,
    )
    s = p.stages["train"]
    assert s.cmd == ["python train.py"] and s.wdir == "src" and s.desc == "fits it"
    assert s.deps == ["src/data.csv", "shared/lib.py"]
    assert s.params == [
        ParamRef("src/params.yaml", ["lr"]),
        ParamRef("src/conf.json", ["a", "b.c"]),
        ParamRef("all.toml", None),
    ]
    assert s.outs == [
        Out("src/model.bin", "outs", cache=True),
        Out("src/cache", "outs", cache=True, persist=True, desc="scratch"),
        Out("src/m.json", "metrics", cache=False),
        Out("src/big.json", "metrics", cache=True),
        Out("src/loss.csv", "plots", cache=False, props={"x": "step", "y": "loss", "title": "Loss"}),
    ]
    assert s.frozen and not s.always_changed
    assert s.where == "cairn.yaml:2:3"


def test_defaults_and_a_command_list(tmp_path):
    p = pipeline(tmp_path, "stages:\n  s:\n    cmd: [a, b]\n  t:\n    cmd: c\n    wdir: .\n")
    s, t = p.stages["s"], p.stages["t"]
    assert s.cmd == ["a", "b"] and t.cmd == ["c"]
    assert (s.wdir, s.deps, s.params, s.outs, s.desc) == ("", [], [], [], None)
    assert not s.frozen and not s.always_changed
    assert t.wdir == ""


def test_single_strings_are_accepted_for_lists(tmp_path):
    s = pipeline(tmp_path, "stages:\n  s:\n    cmd: x\n    deps: a.csv\n    outs: b.csv\n").stages["s"]
    assert s.deps == ["a.csv"] and [o.path for o in s.outs] == ["b.csv"]


def test_params_keys_of_one_file_are_merged(tmp_path):
    s = pipeline(
        tmp_path,
        "stages:\n  s:\n    cmd: x\n    params: [a, b, {params.yaml: [c]}, {o.yaml: [x]}, {o.yaml: [y]}]\n",
    ).stages["s"]
    assert s.params == [ParamRef("params.yaml", ["a", "b", "c"]), ParamRef("o.yaml", ["x", "y"])]


def test_a_whole_file_wins_over_keys_of_it(tmp_path):
    s = pipeline(tmp_path, "stages:\n  s:\n    cmd: x\n    params: [{o.yaml: }, {o.yaml: [k]}]\n").stages["s"]
    assert s.params == [ParamRef("o.yaml", None)]


def test_top_level_params_metrics_plots(tmp_path):
    p = pipeline(
        tmp_path,
        "params: [extra.yaml]\nmetrics: [m.json]\nplots:\n  - p.csv: {x: a}\n  - q.csv\nstages: {}\n",
    )
    assert p.params == ["extra.yaml"] and p.metrics == ["m.json"]
    assert p.plots == [Out("p.csv", "plots", cache=False, props={"x": "a"}), Out("q.csv", "plots", cache=False)]
    assert p.stages == {}


def test_stage_order_is_the_files_order(tmp_path):
    p = pipeline(tmp_path, "stages:\n  z: {cmd: a}\n  a: {cmd: b}\n  m: {cmd: c}\n")
    assert list(p.stages) == ["z", "a", "m"]


def test_empty_file_and_missing_file(tmp_path):
    assert pipeline(tmp_path, "").stages == {}
    assert load_pipeline(tmp_path) is None
    (tmp_path / "cairn.yaml").write_text("stages:\n  s: {cmd: x}\n")
    loaded = load_pipeline(tmp_path)
    assert loaded is not None and list(loaded.stages) == ["s"]


def test_unknown_stage_names_suggest_the_nearest(tmp_path):
    p = pipeline(tmp_path, "stages:\n  train: {cmd: a}\n  evaluate: {cmd: b}\n")
    with pytest.raises(PipelineError) as e:
        p.stage("trian")
    assert e.value.message == "there is no stage named 'trian' in cairn.yaml"
    assert e.value.hint == "did you mean 'train'?"
    with pytest.raises(PipelineError) as e:
        p.stage("zzz")
    assert e.value.hint == "stages: train, evaluate"


def test_a_foreach_or_matrix_name_expands_to_its_stages(tmp_path):
    p = pipeline(
        tmp_path,
        """
        stages:
          train:
            foreach: [small, "x@y"]
            do: {cmd: "echo ${item}"}
          eval:
            matrix: {size: [small, large], seed: [1]}
            cmd: echo
          report: {cmd: echo}
        """,
    )
    assert p.groups() == {"train": ["train@small", "train@x@y"], "eval": ["eval@small-1", "eval@large-1"]}
    assert p.expand(["train"]) == ["train@small", "train@x@y"]
    assert p.expand(["report", "eval", "eval@large-1", "train@small"]) == [
        "report",
        "eval@small-1",
        "eval@large-1",
        "train@small",
    ]
    assert p.expand([]) == []
    with pytest.raises(PipelineError) as e:
        p.expand(["trian"])
    assert e.value.message == "there is no stage named 'trian' in cairn.yaml"
    assert e.value.hint == "did you mean 'train'?"
    with pytest.raises(PipelineError):
        p.expand(["train@medium"])


# -- interpolation -------------------------------------------------------------------------------


def test_interpolation_from_params_yaml_and_vars(tmp_path):
    p = pipeline(
        tmp_path,
        """
        vars:
          - more.yaml
          - pick.json:lr,model.name
          - {inline: 3, lr: 0.5}
        stages:
          s:
            cmd: run --lr ${lr} --n ${inline} --name ${model.name} --x ${x} --flag ${flag} --first ${layers.0}
            outs:
              - out-${ model.name }.bin
        """,
        **{
            "params.yaml": "lr: 0.1\nflag: true\nlayers: [8, 16]\n",
            "more.yaml": "x: from-more\n",
            "pick.json": '{"lr": 0.2, "model": {"name": "net"}, "other": 1}',
        },
    )
    s = p.stages["s"]
    # later vars entries override earlier ones; booleans are written as YAML writes them
    assert s.cmd == ["run --lr 0.5 --n 3 --name net --x from-more --flag true --first 8"]
    assert s.outs[0].path == "out-net.bin"


def test_a_whole_value_keeps_its_type(tmp_path):
    p = pipeline(
        tmp_path,
        "vars: [{files: [a.csv, b.csv], frozen: true}]\nstages:\n  s:\n    cmd: x\n    deps: ${files}\n"
        "    frozen: ${frozen}\n",
    )
    assert p.stages["s"].deps == ["a.csv", "b.csv"] and p.stages["s"].frozen is True


def test_escaped_interpolation_is_left_alone(tmp_path):
    p = pipeline(tmp_path, "stages:\n  s:\n    cmd: echo \\${HOME} ${v}\nvars: [{v: 1}]\n")
    assert p.stages["s"].cmd == ["echo ${HOME} 1"]


def test_bad_interpolation(tmp_path):
    assert problems(tmp_path, "stages:\n  s:\n    cmd: echo ${lrr}\n", **{"params.yaml": "lr: 1\n"}) == [
        "cairn.yaml:3:5: cannot interpolate ${lrr}: 'lrr' is not defined in vars or params.yaml (did you mean 'lr'?)"
    ]
    assert problems(tmp_path, "stages:\n  s:\n    cmd: echo ${zzz}\n", **{"params.yaml": "a: 1\nb: 2\n"}) == [
        "cairn.yaml:3:5: cannot interpolate ${zzz}: 'zzz' is not defined in vars or params.yaml (known: a, b)"
    ]
    assert problems(tmp_path, "vars: [{d: [1]}]\nstages:\n  s:\n    cmd: echo x${d}\n") == [
        "cairn.yaml:4:5: ${d} is a list; only whole values can be one"
    ]


def test_bad_vars(tmp_path):
    assert problems(tmp_path, "vars: [3, nope.yaml, v.yaml:zz]\nstages: {}\n", **{"v.yaml": "a: 1\n"}) == [
        "cairn.yaml:1:8: a vars entry is a file name or a mapping",
        "cairn.yaml:1:11: params file nope.yaml does not exist",
        "cairn.yaml:1:22: v.yaml has no key 'zz'",
    ]


# -- foreach / matrix ----------------------------------------------------------------------------


def test_foreach_over_a_list(tmp_path):
    p = pipeline(
        tmp_path,
        """
        stages:
          train:
            foreach: [small, large]
            do:
              cmd: train ${item} ${key}
              outs:
                - model-${item}.bin
        """,
    )
    assert list(p.stages) == ["train@small", "train@large"]
    assert p.stages["train@large"].cmd == ["train large 1"]
    assert p.stages["train@small"].outs[0].path == "model-small.bin"
    assert p.stages["train@small"].where == "cairn.yaml:4:5"  # its `do`


def test_foreach_over_a_mapping_and_over_a_list_of_mappings(tmp_path):
    p = pipeline(
        tmp_path,
        """
        stages:
          m:
            foreach:
              us: {lang: en}
              fr: {lang: fr}
            do:
              cmd: run ${key} ${item.lang}
          l:
            foreach:
              - {size: 1}
              - {size: 2}
            do:
              cmd: run ${item.size}
        """,
    )
    assert list(p.stages) == ["m@us", "m@fr", "l@0", "l@1"]
    assert p.stages["m@fr"].cmd == ["run fr fr"] and p.stages["l@1"].cmd == ["run 2"]


def test_foreach_from_params(tmp_path):
    p = pipeline(
        tmp_path,
        "stages:\n  t:\n    foreach: ${models}\n    do:\n      cmd: fit ${item} ${lr}\n",
        **{"params.yaml": "models: [a, b]\nlr: 0.1\n"},
    )
    assert {n: s.cmd for n, s in p.stages.items()} == {"t@a": ["fit a 0.1"], "t@b": ["fit b 0.1"]}


def test_matrix(tmp_path):
    p = pipeline(
        tmp_path,
        """
        vars: [{seeds: [1, 2]}]
        stages:
          sweep:
            matrix:
              model: [cnn, mlp]
              seed: ${seeds}
            cmd: fit ${item.model} ${item.seed}
            outs:
              - out/${item.model}-${item.seed}
        """,
    )
    assert list(p.stages) == ["sweep@cnn-1", "sweep@cnn-2", "sweep@mlp-1", "sweep@mlp-2"]
    assert p.stages["sweep@mlp-2"].cmd == ["fit mlp 2"]
    assert p.stages["sweep@cnn-2"].outs[0].path == "out/cnn-2"


def test_generated_duplicates_are_refused(tmp_path):
    assert problems(tmp_path, "stages:\n  t:\n    foreach: [a, a]\n    do: {cmd: x}\n") == [
        "cairn.yaml:2:3: stage 't@a' is defined twice"
    ]


def test_problems_in_a_template_are_reported_once(tmp_path):
    assert problems(tmp_path, "stages:\n  t:\n    foreach: [a, b, c]\n    do:\n      cmd: x\n      oots: [y]\n") == [
        "cairn.yaml:6:7: unknown stage key 'oots' (did you mean 'outs'?)"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("stages:\n  t:\n    foreach: [a]\n", "cairn.yaml:2:3: a foreach stage has exactly two keys"),
        ("stages:\n  t:\n    foreach: [a]\n    do: {cmd: x}\n    cmd: y\n", "cairn.yaml:2:3: a foreach stage has"),
        ("stages:\n  t:\n    foreach: 3\n    do: {cmd: x}\n", "cairn.yaml:3:5: foreach takes a list or a mapping"),
        ("stages:\n  t:\n    foreach: [a]\n    do: echo\n", "cairn.yaml:4:5: a stage is a mapping with at least `cmd`"),
        ("stages:\n  t:\n    matrix: [1]\n    cmd: x\n", "cairn.yaml:3:5: matrix maps names to non-empty lists"),
        ("stages:\n  t:\n    matrix: {a: []}\n    cmd: x\n", "cairn.yaml:3:5: matrix maps names to non-empty lists"),
    ],
)
def test_bad_generators(tmp_path, text, problem):
    found = problems(tmp_path, text)
    assert found[0].startswith(problem), found


# -- validation ----------------------------------------------------------------------------------


def test_every_problem_is_collected_with_its_position(tmp_path):
    found = problems(
        tmp_path,
        """
        version: 1
        stages:
          a:
            cmd: ""
            deps: [3]
            outs:
              - /abs
              - {x: 1, y: 2}
              - z: [no]
              - w: {persist: true, cahce: false}
            plots:
              - p: {x: a, colour: red}
            always_changed: yes please
          b: []
          "c d": {cmd: x}
        extra: 1
        """,
    )
    assert found == [
        "cairn.yaml:16:1: unknown top-level key 'extra' "
        "(expected one of: artifacts, checks, metrics, monitors, params, plots, schema, stages, vars, version)",
        "cairn.yaml:4:5: stage 'a' needs `cmd`: a command or a list of commands",
        "cairn.yaml:13:5: `always_changed` is true or false",
        "cairn.yaml:5:12: a dependency is a path (a string)",
        "cairn.yaml:7:9: '/abs' is an absolute path; write it relative to the stage's wdir",
        "cairn.yaml:8:9: an entry of `outs` is a path or {path: {cache: false, ...}}",
        "cairn.yaml:9:9: settings of z are a mapping, e.g. {cache: false}",
        "cairn.yaml:10:28: unknown setting 'cahce' for w (did you mean 'cache'?)",
        "cairn.yaml:12:19: unknown setting 'colour' for p (expected one of: cache, desc, persist, remote, template, "
        "title, x, x_label, y, y_label)",
        "cairn.yaml:14:3: a stage is a mapping with at least `cmd`",
        "cairn.yaml:15:3: stage name 'c d' may hold only letters, digits, '_', '-' and '.'",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]\n", "cairn.yaml:1:1: the file must be a mapping with a `stages:` key"),
        ("version: 2\nstages: {}\n", "cairn.yaml:1:1: format version 2 is not known to this cairn (it reads 1)"),
        ("stages: [a]\n", "cairn.yaml:1:1: `stages` must map stage names to stage definitions"),
        ("stages:\n  s:\n    cmd: [a, 3]\n", "cairn.yaml:3:5: stage 's' needs `cmd`"),
        ("stages:\n  s:\n    cmd: []\n", "cairn.yaml:3:5: stage 's' needs `cmd`"),
        ("stages:\n  s:\n    deps: [a]\n", "cairn.yaml:2:3: stage 's' needs `cmd`"),
        ("stages:\n  s:\n    cmd: x\n    outs: {a: 1}\n", "cairn.yaml:4:5: `outs` must be a list"),
        ("stages:\n  s:\n    cmd: x\n    params: [3]\n", "cairn.yaml:4:14: a params entry is a key of params.yaml"),
        ("stages:\n  s:\n    cmd: x\n    params: [{f.json: k}]\n", "cairn.yaml:4:14: params of f.json are a list"),
        ("stages:\n  s:\n    cmd: x\n    frozen: 1\n", "cairn.yaml:4:5: `frozen` is true or false"),
        (
            "stages:\n  s:\n    cmd: x\n    outz: [a]\n",
            "cairn.yaml:4:5: unknown stage key 'outz' (did you mean 'outs'?)",
        ),
        ("stages:\n  s@1:\n    cmd: x\n", "cairn.yaml:2:3: stage name 's@1' may hold only"),
        ("stages:\n  s:\n    cmd: x\n    outs: [..]\n", "cairn.yaml:4:12: '..' points outside the repository"),
    ],
)
def test_single_problems(tmp_path, text, problem):
    found = problems(tmp_path, text)
    assert found[0].startswith(problem), found


def test_broken_yaml_names_line_and_column():
    with pytest.raises(PipelineError) as e:
        parse("stages:\n  s:\n    cmd: 'open\n", "cairn.yaml")
    assert e.value.message.startswith("cairn.yaml:4:1: invalid YAML: found unexpected end of stream")
    assert e.value.hint == "fix the syntax at that position"
    with pytest.raises(PipelineError) as e:
        parse("a: b: c\n", "cairn.yaml")
    assert e.value.message.startswith("cairn.yaml:1:5: invalid YAML: mapping values are not allowed")


def test_positions_fall_back_to_the_nearest_parent():
    doc = parse("stages:\n  s:\n    cmd: x\n    outs:\n      - a\n", "f.yaml")
    assert doc.where(("stages", "s", "outs", 0)) == "f.yaml:5:9"
    assert doc.where(("stages", "s", "outs", 7, "deeper")) == "f.yaml:4:5"
    assert doc.where(("nope",)) == "f.yaml:1:1"
    assert parse("", "e.yaml").where(("x",)) == "e.yaml:1:1"
