"""Rendering of lineage documents: sizes, quoting in Mermaid and dot, the downstream graph."""

from __future__ import annotations

from cairn.lineage import render


def _doc() -> dict:
    return {
        "nodes": [{"path": 'say "hi".txt'}, {"path": "in"}],
        "stages": [{"name": "make"}],
        "edges": [{"from": "in", "to": "stage:make"}, {"from": "stage:make", "to": 'say "hi".txt'}],
    }


def test_quotes_are_escaped_for_each_language():
    mermaid = render.to_mermaid(_doc())
    assert 'n0["say #quot;hi#quot;.txt"]' in mermaid and "n1 --> s0" in mermaid and "s0 --> n0" in mermaid
    dot = render.to_dot(_doc())
    assert 'n0 [label="say \\"hi\\".txt", shape=box];' in dot and "n1 -> s0;" in dot


def test_sizes():
    assert [render._size(n) for n in (None, 0, 999, 1000, 1_500_000)] == ["size ?", "0 B", "999 B", "1.0 kB", "1.5 MB"]


def test_downstream_graph_draws_each_edge_once():
    stage = {"stage": "train", "dep": "data", "via": None, "outs": [{"path": "model", "oid": "x"}]}
    doc = {"consumers": [{"stages": [stage]}, {"stages": [stage]}], "target": "data"}
    graph = render.downstream_graph(doc)
    assert [n["path"] for n in graph["nodes"]] == ["data", "model"]
    assert graph["edges"] == [{"from": "data", "to": "stage:train"}, {"from": "stage:train", "to": "model"}]
