"""The stage graph: edges from outputs to dependencies, clashes, cycles, order and rendering."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cairn.errors import PipelineError
from cairn.pipelines import dag
from cairn.pipelines.spec import build
from cairn.pipelines.yamlfile import parse


def graph(text: str, tracked: set[str] | None = None, root: Path = Path("/nonexistent")) -> dag.Graph:
    return dag.build(build(parse(textwrap.dedent(text).lstrip("\n"), "cairn.yaml"), root), tracked or set())


def stages(spec: dict[str, tuple[list[str], list[str]]]) -> str:
    """cairn.yaml text for {name: (deps, outs)}."""
    lines = ["stages:"]
    for name, (deps, outs) in spec.items():
        lines += [f"  {name}:", "    cmd: x", f"    deps: {json.dumps(deps)}", f"    outs: {json.dumps(outs)}"]
    return "\n".join(lines) + "\n"


DIAMOND = stages(
    {
        "prepare": (["raw.csv"], ["data/prepared"]),
        "split_a": (["data/prepared/a.csv"], ["a.bin"]),  # a file inside an output folder
        "split_b": (["data/prepared"], ["b.bin"]),
        "train": (["a.bin", "b.bin"], ["models"]),
        "report": (["models/final"], ["report.md"]),
        "lonely": ([], ["l.txt"]),
    }
)


def test_edges_follow_outputs_into_dependencies():
    g = graph(DIAMOND)
    assert g.edges == {
        "prepare": set(),
        "split_a": {"prepare"},
        "split_b": {"prepare"},
        "train": {"split_a", "split_b"},
        "report": {"train"},  # a dependency inside an output folder
        "lonely": set(),
    }
    assert g.producer("data/prepared/x/y") == "prepare" and g.producer("models") == "train"
    assert g.producer("data") == "prepare"  # a folder holding an output
    assert g.producer("raw.csv") is None


def test_order_upstream_downstream():
    g = graph(DIAMOND)
    assert g.order() == ["prepare", "split_a", "split_b", "train", "report", "lonely"]
    assert g.order(["train"]) == ["prepare", "split_a", "split_b", "train"]
    assert g.order(["split_b"]) == ["prepare", "split_b"]
    assert g.upstream(["report"]) == {"prepare", "split_a", "split_b", "train", "report"}
    assert g.downstream(["split_a"]) == {"split_a", "train", "report"}
    assert g.downstream(["lonely"]) == {"lonely"}


def test_order_prefers_the_files_order_among_ready_stages():
    g = graph(stages({"z": ([], ["z"]), "y": (["z"], ["y"]), "a": ([], ["a"]), "b": (["a"], ["b"])}))
    assert g.order() == ["z", "y", "a", "b"]
    g = graph(stages({"late": (["early"], ["late"]), "early": ([], ["early"]), "free": ([], ["free"])}))
    assert g.order() == ["early", "late", "free"]


def test_a_cycle_names_its_stages():
    with pytest.raises(PipelineError) as e:
        graph(stages({"a": (["c"], ["a"]), "b": (["a"], ["b"]), "c": (["b"], ["c"]), "d": (["a"], ["d"])}))
    message = e.value.message
    assert message.startswith("the stages form a cycle: ")
    cycle = message.split(": ")[1].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    assert "a stage cannot depend, directly or not, on its own output" in e.value.hint


def test_a_two_stage_cycle():
    with pytest.raises(PipelineError, match=r"the stages form a cycle: (a -> b -> a|b -> a -> b)"):
        graph(stages({"a": (["b"], ["a"]), "b": (["a"], ["b"])}))


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"one": ([], ["x"]), "two": ([], ["x"])}, "cairn.yaml:2:3: stages 'one' and 'two' both write x"),
        ({"one": ([], ["d"]), "two": ([], ["d/x"])}, "cairn.yaml:2:3: output d/x lies inside output d ('one', 'two')"),
        ({"one": ([], ["d/x"]), "two": ([], ["d"])}, "output d/x lies inside output d ('one', 'two')"),
        ({"self": (["d"], ["d/o"])}, "cairn.yaml:2:3: stage 'self' depends on its own output d/o"),
        ({"self": (["f"], ["f"])}, "stage 'self' depends on its own output f"),
    ],
)
def test_clashing_outputs(spec, problem):
    with pytest.raises(PipelineError) as e:
        graph(stages(spec))
    assert e.value.message.startswith("outputs clash:\n  ")
    assert e.value.problems == [problem] or e.value.problems[0].endswith(problem)


def test_prefix_names_are_not_nested():
    g = graph(stages({"a": ([], ["data"]), "b": (["data2"], ["data2.bin"]), "c": ([], ["data2"])}))
    assert g.edges["b"] == {"c"}


def test_outputs_overlapping_tracked_paths():
    for out in ["data/raw/x.csv", "data", "data/raw"]:
        with pytest.raises(PipelineError) as e:
            graph(stages({"s": ([], [out])}), tracked={"data/raw"})
        assert e.value.problems == [
            f"cairn.yaml:2:3: output {out} of stage 's' overlaps data/raw, which is tracked with `cairn add` "
            "(remove data/raw.cairn, or change the output)"
        ]
    graph(stages({"s": (["data/raw"], ["data/rawer"])}), tracked={"data/raw"})  # reading it is fine


def test_renderings():
    g = graph(stages({"a": ([], ["a"]), "b": (["a"], ["b"]), "c": (["a", "b"], ["c"]), "solo": ([], ["s"])}))
    assert dag.to_json(g) == {
        "nodes": ["a", "b", "c", "solo"],
        "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}, {"from": "b", "to": "c"}],
    }
    assert dag.to_mermaid(g) == (
        'flowchart TD\n    s0["a"]\n    s1["b"]\n    s2["c"]\n    s3["solo"]\n'
        "    s0 --> s1\n    s0 --> s2\n    s1 --> s2"
    )
    assert dag.to_dot(g) == (
        'strict digraph {\n    "a";\n    "b";\n    "c";\n    "solo";\n'
        '    "a" -> "b";\n    "a" -> "c";\n    "b" -> "c";\n}'
    )
    assert dag.to_text(g) == textwrap.dedent(
        """\
        +---+  +------+
        | a |  | solo |
        +---+  +------+
              |
              v
        +---+
        | b |
        +---+
          b <- a
              |
              v
        +---+
        | c |
        +---+
          c <- a, b"""
    )


def test_rendering_an_empty_graph():
    g = graph("stages: {}\n")
    assert dag.to_text(g) == "" and dag.to_json(g) == {"nodes": [], "edges": []}
    assert dag.to_mermaid(g) == "flowchart TD" and dag.to_dot(g) == "strict digraph {\n}"
