"""`cairn model ...`: the model registry (versions and stages as git tags), getting a version's
files, deployable bundles, serving and champion/challenger comparison."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import close_progress, emit_json, progress_for, say


@click.group()
def model() -> None:
    """Register model versions, move them between stages, get, bundle and serve them.

    The registry is annotated git tags (NAME@vX.Y.Z, NAME#STAGE#N, as GTO writes them): share it
    with `git push --tags` / `git fetch --tags`. See docs/registry.md."""


repo_option = click.option(
    "--repo", "url", metavar="GIT_URL", help="Read the registry of another git repository (URL or path)."
)
message_option = click.option("-m", "--message", help="Why: stored in the tag's annotation.")


@contextmanager
def _reading(as_json: bool, url: str | None) -> Iterator[Any]:
    """This repository, or None when --repo names another one and we are outside any."""
    if url is None:
        with opened(as_json) as repo:
            yield repo
        return
    from cairn.errors import NotARepoError
    from cairn.repo.repo import Repo

    progress = progress_for(as_json)
    try:
        repo = Repo.find(progress=progress)
    except NotARepoError:
        repo = None
    try:
        yield repo
    finally:
        close_progress(progress)
        if repo is not None:
            repo.close()


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _done(doc: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        emit_json(doc)
    else:
        say(text)
        say("Share it: git push origin " + doc["tag"])


@model.command("register")
@click.argument("name")
@click.argument("rev", required=False)
@click.option("--version", "version", metavar="X.Y.Z", help="The version to register (default: the next patch).")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), help="Bump this part of the latest version.")
@message_option
@json_option
def register(
    name: str, rev: str | None, version: str | None, bump: str | None, message: str | None, as_json: bool
) -> None:
    """Register the artifact NAME at REV (default HEAD) as a new version: tag NAME@vX.Y.Z.

    NAME must be declared under `artifacts:` in cairn.yaml at REV."""
    from cairn.repo import registry

    with opened(as_json) as repo:
        doc = registry.register(repo, name, rev, version, bump, message)
    _done(doc, as_json, f"Registered {name} {doc['version']} at {doc['commit'][:7]} (tag {doc['tag']})")


@model.command("assign")
@click.argument("spec", metavar="NAME[@VERSION]")
@click.option("--stage", required=True, help="The stage (dev, staging, prod, ...).")
@message_option
@json_option
def assign(spec: str, stage: str, message: str | None, as_json: bool) -> None:
    """Put a version (default: the latest) in STAGE: tag NAME#STAGE#N. Rolling back is
    assigning an older version."""
    from cairn.repo import registry

    with opened(as_json) as repo:
        doc = registry.assign(repo, spec, stage, message)
    _done(doc, as_json, f"{doc['artifact']} {doc['version']} is now in stage {stage} (tag {doc['tag']})")


@model.command("unassign")
@click.argument("name")
@click.option("--stage", required=True, help="The stage to take the current version out of.")
@message_option
@json_option
def unassign(name: str, stage: str, message: str | None, as_json: bool) -> None:
    """Take the version in STAGE out of it: tag NAME#STAGE!#N."""
    from cairn.repo import registry

    with opened(as_json) as repo:
        doc = registry.unassign(repo, name, stage, message)
    _done(doc, as_json, f"{name} {doc['version']} left stage {stage} (tag {doc['tag']})")


@model.command("deprecate")
@click.argument("name")
@message_option
@json_option
def deprecate(name: str, message: str | None, as_json: bool) -> None:
    """Mark the artifact NAME as deprecated: tag NAME@deprecated#N."""
    from cairn.repo import registry

    with opened(as_json) as repo:
        doc = registry.deprecate(repo, name, message)
    _done(doc, as_json, f"{name} is deprecated (tag {doc['tag']})")


@model.command("list")
@repo_option
@json_option
def list_(url: str | None, as_json: bool) -> None:
    """List artifacts: latest version and what each stage points to."""
    from cairn.repo import registry

    with _reading(as_json, url) as repo:
        rows = registry.listing(repo, url)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("No registered artifacts. Register one: cairn model register NAME")
        return
    for r in rows:
        stages = ", ".join(f"{s}={v}" for s, v in r["stages"].items()) or "-"
        flag = "  (deprecated)" if r["deprecated"] else ""
        say(f"{r['name']:<24} {r['latest'] or '-':<12} {stages}{flag}")


@model.command("show")
@click.argument("name")
@repo_option
@json_option
def show(name: str, url: str | None, as_json: bool) -> None:
    """Show the versions of NAME: commit, author, date, stages and the metrics at that commit."""
    from cairn.repo import registry

    with _reading(as_json, url) as repo:
        doc = registry.show(repo, name, url)
    if as_json:
        emit_json(doc)
        return
    say(f"{doc['name']}" + ("  (deprecated)" if doc["deprecated"] else ""))
    for v in doc["versions_detail"]:
        stages = f"  [{', '.join(v['stages'])}]" if v["stages"] else ""
        say(f"  {v['version']:<12} {v['commit'][:7]}  {_when(v['created_at'])}  {v['author']}{stages}")
        for path, values in (v.get("metrics") or {}).items():
            flat = ", ".join(f"{k}={val}" for k, val in values.items())
            say(f"      {path}: {flat}")


@model.command("history")
@click.argument("name")
@repo_option
@json_option
def history(name: str, url: str | None, as_json: bool) -> None:
    """Every registry event of NAME, newest first: who did what, when and why."""
    from cairn.repo import registry

    with _reading(as_json, url) as repo:
        rows = registry.history(repo, name, url)
    if as_json:
        emit_json(rows)
        return
    for e in rows:
        what = e["action"] + (f" {e['stage']}" if e["stage"] else "")
        say(f"{_when(e['created_at'])}  {what:<18} {e['version'] or '-':<12} {e['author']}: {e['message']}")


@model.command("get")
@click.argument("spec", metavar="NAME@STAGE|NAME@vX.Y.Z")
@repo_option
@click.option("-o", "--out", metavar="PATH", help="Where to write it (default: its name, here).")
@click.option("-f", "--force", is_flag=True, help="Replace PATH if it exists.")
@json_option
def get(spec: str, url: str | None, out: str | None, force: bool, as_json: bool) -> None:
    """Write the files of a model version: resolved through the registry to a commit, fetched
    from the data remote (only that artifact's objects) and verified. With --repo, works
    outside any repository."""
    from cairn.repo import registry

    with _reading(as_json, url) as repo:
        doc = registry.get(repo, spec, out, url, force)
    if as_json:
        emit_json(doc)
    else:
        say(f"{doc['artifact']} {doc['version']} -> {doc['path']} ({doc['files']} file(s), {doc['oid'][:12]})")


def _show_detail(e: Exception) -> None:
    """The traceback behind a serving error, with -v."""
    from cairn.cli.output import verbosity

    detail = getattr(e, "detail", None)
    if detail and verbosity() > 0:
        click.echo(detail.rstrip(), err=True)


@model.command("bundle")
@click.argument("spec", metavar="NAME@STAGE|NAME@vX.Y.Z")
@click.option("-o", "--out", required=True, metavar="DIR|FILE.tar.gz", help="Where to write the bundle.")
@click.option("-f", "--force", is_flag=True, help="Replace the output if it exists.")
@json_option
def bundle(spec: str, out: str, force: bool, as_json: bool) -> None:
    """Write a self-contained deployable bundle: the model files, lineage.json,
    requirements.txt pinned to the training environment, a Dockerfile, MODEL_CARD.md, the
    signature and input example, and serve.py. The entry point is checked on the example."""
    from cairn.errors import ServingError
    from cairn.repo import registry

    with opened(as_json) as repo:
        try:
            doc = registry.bundle(repo, spec, out, force)
        except ServingError as e:
            _show_detail(e)
            raise
    if as_json:
        emit_json(doc)
        return
    say(f"Bundled {doc['artifact']} {doc['version']} ({doc['oid'][:12]}) -> {doc['path']}")
    if doc["checked"]:
        say(f"  entry point on the input example: {doc['checked']}")


@model.command("serve")
@click.argument("spec", metavar="NAME@STAGE|NAME@vX.Y.Z", required=False)
@click.option("--bundle", "bundle_dir", metavar="DIR", help="Serve an unpacked bundle instead.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port; the line printed says which).")
@click.option("--log-requests", "log_dir", metavar="DIR", help="Write inputs and predictions as JSON Lines here.")
def serve(spec: str | None, bundle_dir: str | None, host: str, port: int, log_dir: str | None) -> None:
    """Serve a model version over HTTP: POST /predict (a JSON list of records, or
    {"inputs": [...]}), GET /health, GET /metadata. Stops with Ctrl-C."""
    from cairn.errors import ServingError
    from cairn.repo import registry

    if (spec is None) == (bundle_dir is None):
        raise click.UsageError("name a model version (NAME@STAGE) or a bundle (--bundle DIR), one of them")

    def ready(bound_host: str, bound_port: int) -> None:
        click.echo(f"serving on http://{bound_host}:{bound_port}")

    try:
        if bundle_dir is not None:
            registry.serve(None, None, host, port, log_dir, ready, bundle_dir)
            return
        with opened() as repo:
            registry.serve(repo, spec, host, port, log_dir, ready)
    except ServingError as e:
        _show_detail(e)
        raise


@model.command("compare")
@click.argument("champion", metavar="NAME@STAGE")
@click.argument("candidate", metavar="CANDIDATE")
@click.option("--stage", "stage", default="evaluate", show_default=True, help="The evaluation stage to run.")
@click.option(
    "--data", metavar="REV", help="Evaluate both on the data (and evaluation code) of REV (default: the candidate's)."
)
@click.option("--promote", metavar="STAGE", help="Assign the candidate to STAGE when every check passes.")
@json_option
def compare(champion: str, candidate: str, stage: str, data: str | None, promote: str | None, as_json: bool) -> int:
    """Champion / challenger: run the evaluation stage for the model in NAME@STAGE and for
    CANDIDATE (a version, a git revision or an experiment), each in a temporary workspace on the
    same data, and show their metrics side by side, paired bootstrap 95% intervals where the
    evaluation writes per-row results (prediction, label), and the checks of cairn.yaml with the
    champion as baseline. Exit 1 when a check fails (and nothing is promoted)."""
    from cairn.repo import registry

    with opened(as_json) as repo:
        doc = registry.compare(repo, champion, candidate, stage, data, promote)
    if as_json:
        emit_json(doc)
    else:
        _render_compare(doc, promote)
    return 0 if doc["passed"] else 1


def _render_compare(doc: dict[str, Any], promote: str | None) -> None:
    a, b = doc["champion"], doc["challenger"]
    theirs = b["version"] or b["commit"][:7]
    say(f"{doc['artifact']}: champion {a['spec']} ({a['version']}) vs challenger {b['spec']} ({theirs})")
    say(f"stage {doc['stage']} on the data of {doc['data'][:7]}")
    for m in doc["metrics"]:
        change = f"{m['change']:+.4g}" if m["change"] is not None else ""
        say(f"  {m['path']}:{m['key']:<20} {m['champion']!s:>12} {m['challenger']!s:>12} {change}")
    for p in doc["paired"]:
        lo, hi = p["ci95"]
        say(f"  paired {p['metric']} over {p['rows']} rows: {p['diff']:+.4g} (95% interval {lo:+.4g} .. {hi:+.4g})")
    checks = doc["checks"]
    if checks is None:
        say("checks: none in cairn.yaml")
    else:
        for c in checks["checks"]:
            say(f"  check {c.get('name')}: {c.get('verdict')}")
        say(f"checks: {'passed' if checks['passed'] else 'FAILED'}")
    if promote:
        if doc["promoted"]:
            say(f"promoted: {doc['promoted']['version']} is now in stage {promote} (tag {doc['promoted']['tag']})")
        else:
            say(f"not promoted to {promote}: a check failed")
