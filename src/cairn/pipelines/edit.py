"""`cairn stage add`: write a stage into cairn.yaml.

The file is edited as text, in place: the new stage's lines go after the last stage (or replace
the lines of the stage it replaces, with --force), found from the positions PyYAML gives every
node. Everything else (comments, blank lines, quoting, key order, other sections before or after
`stages:`) stays byte for byte as the user wrote it. Only a `stages` mapping written in flow
style (`stages: {a: {...}}`) is rewritten as a block, and a whole file in flow style is
rewritten from its data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cairn.errors import PipelineError
from cairn.pipelines import dag
from cairn.pipelines.spec import PIPELINE_FILE, build
from cairn.pipelines.yamlfile import compose, parse

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def stage_body(
    cmd: str,
    deps: list[str],
    outs: list[str],
    outs_no_cache: list[str],
    params: list[str],
    metrics: list[str],
    plots: list[str],
    wdir: str | None,
    desc: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"cmd": cmd}
    if wdir and wdir != ".":
        body["wdir"] = wdir
    if desc:
        body["desc"] = desc
    if deps:
        body["deps"] = deps
    if params:
        body["params"] = params
    all_outs: list[Any] = list(outs) + [{o: {"cache": False}} for o in outs_no_cache]
    if all_outs:
        body["outs"] = all_outs
    if metrics:
        body["metrics"] = [{m: {"cache": False}} for m in metrics]
    if plots:
        body["plots"] = [{p: {"cache": False}} for p in plots]
    return body


def add_stage(root: Path, name: str, body: dict[str, Any], force: bool, tracked: set[str]) -> None:
    path = root / PIPELINE_FILE
    text = path.read_text() if path.exists() else ""
    new_text = with_stage(text, name, body, force)
    # validate the result before it replaces anything: a bad stage never lands on disk
    dag.build(build(parse(new_text, PIPELINE_FILE), root), tracked)
    tmp = root / f".{PIPELINE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(new_text)
    os.replace(tmp, path)


def with_stage(text: str, name: str, body: dict[str, Any], force: bool) -> str:
    """`text` (cairn.yaml) with stage `name` added, or replaced when `force`."""
    top, data = compose(text, PIPELINE_FILE)
    if top is None:  # empty, or comments only
        return _ending(text) + "stages:\n" + _block(name, body, 2)
    if not isinstance(top, yaml.MappingNode) or not isinstance(data, dict):
        return text  # not a mapping: validation reports it
    pairs = {key.value: (key, value) for key, value in top.value if isinstance(key, yaml.ScalarNode)}
    stages = data.get("stages")
    if isinstance(stages, dict) and name in stages and not force:
        raise PipelineError(f"stage {name!r} already exists in {PIPELINE_FILE}", "use --force to replace it")
    if stages is not None and not isinstance(stages, dict):
        return text  # `stages` is not a mapping: validation reports it
    if top.flow_style:  # `{stages: ...}` on one line: nothing of a layout to keep
        return _dump({**data, "stages": {**(stages or {}), name: body}})
    if "stages" not in pairs:
        return _ending(text) + "stages:\n" + _block(name, body, 2)
    value = pairs["stages"][1]
    lines = text.splitlines(keepends=True)
    if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
        return _edit_block(lines, value, name, body)
    if isinstance(value, yaml.MappingNode) or (isinstance(value, yaml.ScalarNode) and stages is None):
        # `stages: {...}` or `stages:` with nothing yet: the value becomes a block under the key
        start, end = _offset(lines, value.start_mark), _offset(lines, value.end_mark)
        rest = text[end:]
        line_end = rest.find("\n") + 1 or len(rest)
        block = _block(name, body, 2) if stages is None else _indent(_dump({**stages, name: body}), 2)
        return _ending(text[:start].rstrip(" ") + rest[:line_end]) + block + rest[line_end:]
    return text


def _edit_block(lines: list[str], stages: yaml.MappingNode, name: str, body: dict[str, Any]) -> str:
    column = stages.value[0][0].start_mark.column  # the indentation of stage names
    block = _block(name, body, column)
    for key, value in stages.value:
        if key.value == name:  # --force: the stage's own lines are replaced, comments above it stay
            first, last = key.start_mark.line, _last_line(lines, value, column)
            return "".join([*lines[:first], block, *lines[last + 1 :]])
    key, value = stages.value[-1]
    last = _last_line(lines, value, column)
    # keep the file's habit of a blank line between stages (above the last one's own comments)
    above = key.start_mark.line - 1
    while above >= 0 and _comment_at(lines[above], column):
        above -= 1
    gap = "\n" if above >= stages.start_mark.line and not lines[above].strip() else ""
    head = lines[: last + 1]
    if head and not head[-1].endswith("\n"):
        head[-1] += "\n"
    return "".join([*head, gap, block, *lines[last + 1 :]])


def _last_line(lines: list[str], node: yaml.Node, column: int) -> int:
    """Index of the last line holding `node`'s content, plus comment lines right after it that
    are indented deeper than the stage names (they belong to the stage)."""
    while not getattr(node, "flow_style", True) and node.value:  # block mappings and sequences
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    line = end.line if end.column > 0 else end.line - 1
    while line > node.start_mark.line and not lines[line].strip():
        line -= 1  # a block scalar (`|`) ends after its trailing blank lines
    while line + 1 < len(lines) and _comment_at(lines[line + 1], column + 1):
        line += 1
    return line


def _comment_at(line: str, column: int) -> bool:
    """A comment-only line indented by at least `column`."""
    stripped = line.lstrip(" ")
    return stripped.startswith("#") and len(line) - len(stripped) >= column


def _offset(lines: list[str], mark: yaml.Mark) -> int:
    return sum(len(line) for line in lines[: mark.line]) + mark.column


def _ending(text: str) -> str:
    """`text` ending with a newline (unless empty)."""
    return text if not text or text.endswith("\n") else text + "\n"


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _block(name: str, body: dict[str, Any], column: int) -> str:
    return _indent(_dump({name: body}), column)


def _indent(block: str, column: int) -> str:
    pad = " " * column
    return "".join(f"{pad}{line}\n" if line else "\n" for line in block.splitlines())
