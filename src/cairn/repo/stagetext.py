"""Small edits of cairn.yaml's text for `cairn remove STAGE` and `cairn freeze`/`unfreeze`: a
stage's lines taken out, or one key of a stage set or dropped, found from the positions PyYAML
gives every node (as pipelines/edit.py adds stages). Every other byte stays as the user wrote it;
a stage written in flow style (`{cmd: ...}`) is the one case where the file is written anew from
its data."""

from __future__ import annotations

from typing import Any

import yaml

from cairn.errors import PipelineError
from cairn.pipelines.spec import PIPELINE_FILE
from cairn.pipelines.yamlfile import compose

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _pairs(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _last_line(node: yaml.Node) -> int:
    """The index of the last line holding `node`'s content."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _stages(text: str) -> tuple[yaml.Node, Any, yaml.MappingNode]:
    top, data = compose(text, PIPELINE_FILE)
    stages = _pairs(top).get("stages") if top is not None else None
    if stages is None or not isinstance(stages[1], yaml.MappingNode):
        raise PipelineError(f"{PIPELINE_FILE} has no stages", "define stages first (`cairn stage add`)")
    return top, data, stages[1]


def without_stage(text: str, name: str) -> str:
    """`text` without stage `name` (a top-level stage entry, foreach/matrix ones included)."""
    top, data, stages = _stages(text)
    found = _pairs(stages).get(name)
    if found is None:
        raise PipelineError(f"there is no stage named {name!r} in {PIPELINE_FILE}")
    if top.flow_style or stages.flow_style:
        del data["stages"][name]
        return _dump(data)
    key, value = found
    lines = text.splitlines(keepends=True)
    first, last = key.start_mark.line, _last_line(value)
    return "".join(lines[:first] + lines[last + 1 :])


def with_key(text: str, name: str, inner: str | None, key: str, value: bool | None) -> str:
    """`text` with `key: value` set in stage `name`'s body (under `inner`, e.g. `do` of a foreach
    stage), or dropped when `value` is None."""
    top, data, stages = _stages(text)
    found = _pairs(stages).get(name)
    if found is None:
        raise PipelineError(f"there is no stage named {name!r} in {PIPELINE_FILE}")
    body = found[1]
    if inner is not None:
        body = _pairs(body)[inner][1]
    if not isinstance(body, yaml.MappingNode) or not body.value:
        raise PipelineError(f"stage {name!r} in {PIPELINE_FILE} is not a mapping", "fix the stage first")
    if top.flow_style or stages.flow_style or body.flow_style:
        target = data["stages"][name] if inner is None else data["stages"][name][inner]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
        return _dump(data)
    lines = text.splitlines(keepends=True)
    existing = _pairs(body).get(key)
    literal = "true" if value else "false"
    if existing is not None:
        k, v = existing
        if value is None:
            return "".join(lines[: k.start_mark.line] + lines[_last_line(v) + 1 :])
        if v.start_mark.line != v.end_mark.line or not isinstance(v, yaml.ScalarNode):
            raise PipelineError(f"`{key}` of stage {name!r} is not a single value", f"write `{key}: {literal}`")
        line = lines[v.start_mark.line]
        lines[v.start_mark.line] = line[: v.start_mark.column] + literal + line[v.end_mark.column :]
        return "".join(lines)
    if value is None:
        return text
    column = body.value[0][0].start_mark.column
    after = _last_line(body)
    if after < len(lines) and not lines[after].endswith("\n"):
        lines[after] += "\n"
    lines.insert(after + 1, f"{' ' * column}{key}: {literal}\n")
    return "".join(lines)
