"""The stage graph: an edge A -> B when an output of A is, contains or lies inside a dependency
of B. Checks outputs for clashes; renders as text, mermaid, dot or JSON."""

from __future__ import annotations

import graphlib
import heapq
from dataclasses import dataclass

from cairn.errors import PipelineError
from cairn.pipelines.spec import Pipeline, Stage


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or a == "" or b == ""


@dataclass
class Graph:
    pipeline: Pipeline
    edges: dict[str, set[str]]  # stage -> stages it depends on

    def order(self, targets: list[str] | None = None) -> list[str]:
        """Stages needed for `targets` (all when None), upstream first; among stages that are
        ready at the same time, the one defined first in cairn.yaml comes first.

        The order must not depend on set iteration (string hashes vary per process): it decides
        the stage order of cairn.lock, whose git diffs must stay quiet, and of every output."""
        wanted = set(self.pipeline.stages) if not targets else self.upstream(targets)
        position = {name: i for i, name in enumerate(self.pipeline.stages)}
        waiting_on = {s: len(self.edges[s] & wanted) for s in wanted}
        users: dict[str, list[str]] = {s: [] for s in wanted}
        for s in wanted:
            for d in self.edges[s] & wanted:
                users[d].append(s)
        ready = [(position[s], s) for s, n in waiting_on.items() if n == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, s = heapq.heappop(ready)
            out.append(s)
            for u in users[s]:
                waiting_on[u] -= 1
                if waiting_on[u] == 0:
                    heapq.heappush(ready, (position[u], u))
        return out

    def upstream(self, targets: list[str]) -> set[str]:
        out: set[str] = set()
        stack = list(targets)
        while stack:
            s = stack.pop()
            if s not in out:
                out.add(s)
                stack.extend(self.edges[s])
        return out

    def downstream(self, targets: list[str]) -> set[str]:
        rev: dict[str, set[str]] = {s: set() for s in self.edges}
        for s, deps in self.edges.items():
            for d in deps:
                rev[d].add(s)
        out: set[str] = set()
        stack = list(targets)
        while stack:
            s = stack.pop()
            if s not in out:
                out.add(s)
                stack.extend(rev[s])
        return out

    def producer(self, path: str) -> str | None:
        for name, stage in self.pipeline.stages.items():
            if any(_overlaps(o.path, path) for o in stage.outs):
                return name
        return None


def build(pipeline: Pipeline, tracked: set[str]) -> Graph:
    """The graph, after refusing clashing outputs; `tracked` are paths added with `cairn add`."""
    problems: list[str] = []
    outs: list[tuple[str, Stage]] = [(o.path, s) for s in pipeline.stages.values() for o in s.outs]
    for i, (a, sa) in enumerate(outs):
        for b, sb in outs[i + 1 :]:
            if a == b:
                problems.append(f"{sa.where}: stages {sa.name!r} and {sb.name!r} both write {a}")
            elif _overlaps(a, b):
                inner, outer = (a, b) if len(a) > len(b) else (b, a)
                problems.append(f"{sa.where}: output {inner} lies inside output {outer} ({sa.name!r}, {sb.name!r})")
        for t in tracked:
            if _overlaps(a, t):
                problems.append(
                    f"{sa.where}: output {a} of stage {sa.name!r} overlaps {t}, which is tracked with `cairn add` "
                    f"(remove {t}.cairn, or change the output)"
                )
    for stage in pipeline.stages.values():
        # not a cycle graphlib can see (edges join different stages), but the same dead end: the
        # stage would change its own input, so it would run again on every repro
        for dep in stage.deps:
            for out in stage.outs:
                if _overlaps(out.path, dep):
                    problems.append(f"{stage.where}: stage {stage.name!r} depends on its own output {out.path}")
    if problems:
        raise PipelineError(
            "outputs clash:\n  " + "\n  ".join(problems),
            "every path may be written by one stage only, and no stage may read what it writes",
            problems,
        )
    edges: dict[str, set[str]] = {name: set() for name in pipeline.stages}
    for name, stage in pipeline.stages.items():
        for dep in stage.deps:
            for other, ostage in pipeline.stages.items():
                if other != name and any(_overlaps(o.path, dep) for o in ostage.outs):
                    edges[name].add(other)
    graph = Graph(pipeline, edges)
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as e:
        cycle = e.args[1]
        raise PipelineError(
            f"the stages form a cycle: {' -> '.join(reversed(cycle))}",
            "a stage cannot depend, directly or not, on its own output; remove one of these dependencies",
        ) from None
    return graph


# -- rendering ---------------------------------------------------------------------------------
def to_json(graph: Graph) -> dict:
    return {
        "nodes": list(graph.order()),
        "edges": [{"from": d, "to": s} for s in graph.order() for d in sorted(graph.edges[s])],
    }


def to_mermaid(graph: Graph) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(graph.order())}
    lines = ["flowchart TD"]
    lines += [f'    {ids[n]}["{n}"]' for n in graph.order()]
    lines += [f"    {ids[d]} --> {ids[s]}" for s in graph.order() for d in sorted(graph.edges[s])]
    return "\n".join(lines)


def to_dot(graph: Graph) -> str:
    lines = ["strict digraph {"]
    lines += [f'    "{n}";' for n in graph.order()]
    lines += [f'    "{d}" -> "{s}";' for s in graph.order() for d in sorted(graph.edges[s])]
    lines.append("}")
    return "\n".join(lines)


def to_text(graph: Graph) -> str:
    """Stages as boxes, level by level, with the stages each one waits for."""
    level: dict[str, int] = {}
    for name in graph.order():
        level[name] = 1 + max((level[d] for d in graph.edges[name]), default=-1)
    rows: list[str] = []
    for lv in range(max(level.values(), default=-1) + 1):
        names = [n for n in graph.order() if level[n] == lv]
        boxes = [f"+{'-' * (len(n) + 2)}+" for n in names]
        rows.append("  ".join(boxes))
        rows.append("  ".join(f"| {n} |" for n in names))
        rows.append("  ".join(boxes))
        for n in names:
            if graph.edges[n]:
                rows.append(f"  {n} <- {', '.join(sorted(graph.edges[n]))}")
        if lv < max(level.values()):
            rows.append("      |\n      v")
    return "\n".join(rows)
