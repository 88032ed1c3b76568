"""`cairn stage add`: write a stage into cairn.yaml.

A new stage is appended as text when `stages:` is the file's last section, so the user's
comments and layout survive; otherwise (or when replacing a stage with --force) the file is
rewritten from its data, which drops comments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cairn.errors import PipelineError
from cairn.pipelines import dag
from cairn.pipelines.spec import PIPELINE_FILE, build
from cairn.pipelines.yamlfile import parse

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
    doc = parse(text, PIPELINE_FILE) if text.strip() else None
    data = dict(doc.data or {}) if doc is not None else {}
    stages = dict(data.get("stages") or {})
    if name in stages and not force:
        raise PipelineError(f"stage {name!r} already exists in {PIPELINE_FILE}", "use --force to replace it")
    replacing = name in stages
    stages[name] = body
    data["stages"] = stages
    block = yaml.dump({name: body}, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    if not text.strip():
        new_text = "stages:\n" + _indent(block)
    elif not replacing and list(data)[-1] == "stages" and (doc.data or {}).get("stages"):
        new_text = text + ("" if text.endswith("\n") else "\n") + _indent(block)
    else:
        new_text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    # validate the result before it replaces anything: a bad stage never lands on disk
    dag.build(build(parse(new_text, PIPELINE_FILE), root), tracked)
    tmp = root / f".{PIPELINE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(new_text)
    os.replace(tmp, path)


def _indent(block: str) -> str:
    return "".join(f"  {line}\n" if line else "\n" for line in block.splitlines())
