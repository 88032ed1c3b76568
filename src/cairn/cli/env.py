"""`cairn env show | diff | export`: the environments stage runs were recorded in."""

from __future__ import annotations

from typing import Any

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import emit_json, say, verbosity


@click.group()
def env() -> None:
    """Show, compare and export the environments stages ran in."""


@env.command("show")
@click.argument("name", default="current")
@json_option
def env_show(name: str, as_json: bool) -> None:
    """Show the environment records of NAME (default: the current environment), with the
    stages recorded in each. `cairn -v env show` lists the packages.

    NAME is a git revision, an experiment, `workspace` (cairn.lock here) or `current`."""
    from cairn.repo.environment import view

    with opened(as_json) as repo:
        doc = view(repo, name)
    if as_json:
        emit_json(doc)
        return
    if doc["kind"] != "current" and not doc["stages"]:
        say(f"{name} has no pipeline run recorded (no cairn.lock entries).")
    for oid, record in doc["records"].items():
        stages = [s for s, o in doc["stages"].items() if o == oid]
        head = f"environment {oid[:12]}" + (f" (stages: {', '.join(stages)})" if stages else "")
        say(head)
        for line in _record_lines(record):
            say(f"  {line}")
    unrecorded = [s for s, o in doc["stages"].items() if o is None]
    if unrecorded:
        say(f"no environment recorded for: {', '.join(unrecorded)} (run before cairn recorded environments)")
    for oid in doc["missing"]:
        stages = [s for s, o in doc["stages"].items() if o == oid]
        say(f"environment {oid[:12]} (stages: {', '.join(stages)}) is not in the cache; `cairn pull` at {name}")


def _record_lines(record: dict[str, Any]) -> list[str]:
    py, osys, cpu, gpu = (record.get(k) or {} for k in ("python", "os", "cpu", "gpu"))
    lines = [
        f"python:   {py.get('version')} ({py.get('implementation')})",
        f"os:       {osys.get('platform') or osys.get('system')}",
        f"machine:  {record.get('machine')}, {cpu.get('count')} x {cpu.get('model')}",
    ]
    for d in gpu.get("devices") or []:
        versions = f"driver {gpu.get('driver')}, cuda {gpu.get('cuda')}"
        lines.append(f"gpu:      {d.get('name')} ({d.get('memory')}), {versions}")
    packages = record.get("packages") or []
    lines.append(f"packages: {len(packages)} (fingerprint {record.get('fingerprint')})")
    if verbosity() > 0:
        lines += [f"  {p}" for p in packages]
    for var, value in (record.get("vars") or {}).items():
        lines.append(f"${var} = {'(unset)' if value is None else value}")
    lines += [f"note: {n}" for n in record.get("notes") or []]
    return lines


@env.command("diff")
@click.argument("a")
@click.argument("b", default="current")
@click.option("--stage", help="Only this stage.")
@json_option
def env_diff(a: str, b: str, stage: str | None, as_json: bool) -> None:
    """Show what differs from the environment of A to that of B (default: the current
    environment), stage by stage. A and B are git revisions, experiments, `workspace` or
    `current`."""
    from cairn.repo.environment import diff

    with opened(as_json) as repo:
        doc = diff(repo, a, b, stage)
    if as_json:
        emit_json(doc)
        return
    if not doc["stages"]:
        say(f"no stage has an environment record in {a} or {b}")
    for name, d in doc["stages"].items():
        if d["note"]:
            say(f"stage {name}: not compared: {d['note']}")
        elif not d["changes"]:
            say(f"stage {name}: same environment")
        else:
            say(f"stage {name}:")
            for c in d["changes"]:
                say(f"  {c['text']}")


@env.command("export")
@click.argument("name", default="workspace")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["requirements", "dockerfile"]),
    default="requirements",
    show_default=True,
    help="Pinned requirements (pip), or a Dockerfile that rebuilds the run.",
)
@click.option("--stage", help="The stage whose environment to export (when stages ran in different ones).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def env_export(name: str, fmt: str, stage: str | None, output: str | None) -> None:
    """Write the recorded environment of NAME (default: `workspace`, the cairn.lock here) as
    pinned requirements or as a Dockerfile. NAME is a git revision, an experiment, `workspace`
    or `current`."""
    from cairn.environment import export
    from cairn.repo.environment import pick, view

    with opened(False) as repo:
        record, _ = pick(repo, name, stage)
        commit = view(repo, name)["commit"] if fmt == "dockerfile" else None
    text = (
        export.requirements(record, name)
        if fmt == "requirements"
        else export.dockerfile(record, name, commit, [stage] if stage else [])
    )
    if output:
        from pathlib import Path

        from cairn.errors import PathError

        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)  # as `model get -o` makes its folders
            Path(output).write_text(text)
        except OSError as e:
            import errno

            # mkdir says "File exists" when a file stands where a folder of the path should be
            why = (
                "a part of its path is a file, not a folder" if e.errno in (errno.EEXIST, errno.ENOTDIR) else e.strerror
            )
            raise PathError(f"cannot write {output}: {why}", "choose an -o path you can write") from None
    else:
        click.echo(text, nl=False)
