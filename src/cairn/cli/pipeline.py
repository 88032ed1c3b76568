"""Pipeline commands: repro, dag, stage add, stage list."""

from __future__ import annotations

import shlex
import threading

import click

from cairn.cli.data import environment_warnings, json_option, opened
from cairn.cli.output import emit_json, say, verbosity


class _Printer:
    """Stage output as it comes; prefixed with the stage name when stages run in parallel."""

    def __init__(self, prefix: bool, quiet: bool) -> None:
        self.prefix, self.quiet = prefix, quiet
        self.lock = threading.Lock()

    def stage_started(self, name: str, why: list[str]) -> None:
        if not self.quiet and verbosity() >= 0:  # -q: only the stages' own output
            with self.lock:
                click.echo(f"Running stage {name!r} ({'; '.join(why)})" if why else f"Running stage {name!r}", err=True)

    def stage_output(self, name: str, line: str) -> None:
        if not self.quiet:
            with self.lock:
                click.echo(f"[{name}] {line}" if self.prefix else line)

    def stage_finished(self, name: str, outcome: str, detail: str = "") -> None:
        if self.quiet or verbosity() < 0 or (outcome == "up to date" and verbosity() == 0):
            return
        if outcome == "would run":  # --dry lists these on stdout once the plan is made
            return
        with self.lock:
            click.echo(f"Stage {name!r}: {outcome}" + (f" ({detail})" if detail else ""), err=True)


def _shell_word(word: str) -> str:
    """`word` as it goes into the command line: as given when the shell would read it as the
    same one word, or when it is a shell operator of its own (`>`, `&&`, `2>&1`), else quoted as
    a person would quote it (double quotes around Python code full of single quotes).
    `$VAR`, `${param}`, `$(command)` and globs stay unquoted, to be expanded when the stage runs
    (a user quotes `'$(date)'` to keep their own shell from expanding it now)."""
    if word and (not any(c in _SPLITS for c in word) or all(c in _OPERATOR for c in word)):
        return word
    if "$(" in word or "`" in word:
        return word
    if "'" not in word:
        return f"'{word}'"
    if not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)


_SPLITS = frozenset(" \t\n'\"()`;&|<>\\#")
_OPERATOR = frozenset("<>|&;0123456789")


@click.command()
@click.argument("stages", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Run even if up to date.")
@click.option("--downstream", is_flag=True, help="Also the stages that depend on STAGES.")
@click.option("-s", "--single", is_flag=True, help="Only STAGES, not what they depend on.")
@click.option("--dry", is_flag=True, help="Say what would run and why; run nothing.")
@click.option("-k", "--keep-going", is_flag=True, help="After a failure, go on with stages that do not depend on it.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Stages run at once.")
@click.option("--pull", is_flag=True, help="Fetch missing cached data from the default remote first.")
@click.option("--no-run-cache", is_flag=True, help="Always run; never restore outputs from earlier runs.")
@json_option
def repro(stages, force, downstream, single, dry, keep_going, jobs, pull, no_run_cache, as_json) -> None:
    """Run the stages of cairn.yaml whose inputs changed (all, or those STAGES need), and record
    them in cairn.lock. Independent stages run in parallel with -j N."""
    from cairn.pipelines.runner import ReproFailedError, ReproOptions

    opts = ReproOptions(list(stages), force, downstream, single, dry, keep_going, jobs, not no_run_cache)
    with opened(as_json) as repo:
        if pull:
            repo.fetch_pipeline_data()
        try:
            result = repo.repro(opts, _Printer(prefix=jobs > 1, quiet=as_json))
        except ReproFailedError as e:
            if as_json:  # what ran and each failed stage's exit code, for scripts; the error follows
                emit_json(e.result.to_dict())
            raise
        # after the run: a stage that ran has just recorded this very environment
        env = repo.environment_changes()
    if as_json:
        emit_json({**result.to_dict(), "environment": env})
        return
    environment_warnings(env)
    if dry:
        for name, why in result.would_run.items():
            say(f"would run {name}: {'; '.join(why)}")
        if not result.would_run:
            say("Everything is up to date.")
        return
    if not result.ran and not result.restored:
        say("Everything is up to date.")
    elif result.restored:
        say(f"Restored from the run-cache (not run): {', '.join(result.restored)}")


@click.command()
@click.option("--mermaid", "fmt", flag_value="mermaid", help="Mermaid flowchart.")
@click.option("--dot", "fmt", flag_value="dot", help="Graphviz dot.")
@click.option("--json", "fmt", flag_value="json", help="Nodes and edges as JSON.")
def dag(fmt: str | None) -> None:
    """Show the pipeline graph (text by default)."""
    from cairn.pipelines import dag as dag_mod

    with opened(fmt == "json") as repo:
        graph = repo._need_pipeline()
    if fmt == "json":
        emit_json(dag_mod.to_json(graph))
    elif fmt == "mermaid":
        click.echo(dag_mod.to_mermaid(graph))
    elif fmt == "dot":
        click.echo(dag_mod.to_dot(graph))
    else:
        click.echo(dag_mod.to_text(graph))


@click.group()
def stage() -> None:
    """Define and list pipeline stages in cairn.yaml."""


@stage.command("add")
@click.option("-n", "--name", required=True, help="Stage name.")
@click.option("-d", "--deps", multiple=True, help="A dependency (repeat).")
@click.option("-o", "--outs", multiple=True, help="An output, cached (repeat).")
@click.option("-O", "--outs-no-cache", multiple=True, help="An output, not cached (repeat).")
@click.option("-p", "--params", multiple=True, help="params.yaml keys key1,key2, or FILE:key1,key2 (repeat).")
@click.option("-m", "--metrics", multiple=True, help="A metrics file (repeat).")
@click.option("--plots", multiple=True, help="A plots file (repeat).")
@click.option("-w", "--wdir", help="Working directory of the command.")
@click.option("--desc", help="A description.")
@click.option("-f", "--force", is_flag=True, help="Replace a stage of the same name.")
@click.argument("command", nargs=-1, required=True)
def stage_add(name, deps, outs, outs_no_cache, params, metrics, plots, wdir, desc, force, command) -> None:
    """Add a stage running COMMAND to cairn.yaml (run it with `cairn repro`)."""
    from cairn.pipelines.edit import add_stage, stage_body
    from cairn.pipelines.runner import tracked_paths

    param_entries: list = []
    for p in params:
        if ":" in p:
            file, _, keys = p.partition(":")
            param_entries.append({file: [k for k in keys.split(",") if k]})
        else:
            # `-p a,b` is two keys of params.yaml, as with `file:a,b` (and DVC's `-p`).
            param_entries.extend(k for k in p.split(",") if k)
    # One argument is a command line as the user wrote it; several are words the shell has
    # already split, so they are quoted back (`python -c "a(1); b()"` must stay one argument).
    cmd = command[0] if len(command) == 1 else " ".join(_shell_word(w) for w in command)
    body = stage_body(
        cmd,
        list(deps),
        list(outs),
        list(outs_no_cache),
        param_entries,
        list(metrics),
        list(plots),
        wdir,
        desc,
    )
    with opened() as repo:
        add_stage(repo.root, name, body, force, tracked_paths(repo.ws))
    say(f"Added stage {name!r} to cairn.yaml. Run it with `cairn repro {name}`.")


@stage.command("list")
@json_option
def stage_list(as_json: bool) -> None:
    """List the stages of cairn.yaml with their commands."""
    with opened(as_json) as repo:
        graph = repo.pipeline_graph()
    stages = graph.pipeline.stages if graph is not None else {}
    if as_json:
        emit_json(
            [
                {"name": s.name, "cmd": s.cmd, "deps": s.deps, "outs": [o.path for o in s.outs], "desc": s.desc}
                for s in stages.values()
            ]
        )
        return
    if not stages:
        say("No stages. Add one with `cairn stage add -n NAME ... COMMAND`.")
    for s in stages.values():
        say(f"{s.name}\t{' && '.join(s.cmd)}" + (f"\t# {s.desc}" if s.desc else ""))
