"""`cairn exp ...` and `cairn queue ...`."""

from __future__ import annotations

import csv
import io
import sys
import time
from typing import Any

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import emit_json, say


def _exps(repo):
    from cairn.repo.experiments import Experiments

    return Experiments(repo)


@click.group()
def exp() -> None:
    """Run, compare and share experiments: pipeline runs with changed parameters, recorded as
    commits on hidden refs (refs/cairn/exps/...), not on your branches."""


@exp.command("run")
@click.argument("stages", nargs=-1)
@click.option("-n", "--name", help="Experiment name (generated when not given).")
@click.option(
    "-S",
    "--set-param",
    "specs",
    multiple=True,
    help="KEY=VALUE override; FILE:KEY=VALUE for another file; "
    "+KEY=VALUE adds a key; a,b,c or range(2,8,2) sweep (queued).",
)
@click.option("--queue", is_flag=True, help="Queue instead of running now (see `cairn queue start`).")
@click.option("--run-all", is_flag=True, help="Run every queued experiment now, in the foreground.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel runs or stages.")
@click.option(
    "--resources",
    metavar="SPEC",
    help="With --queue: what each run asks of a cluster node, e.g. cpu=4,gpu=1,memory=8G (see docs/cluster.md).",
)
@json_option
def exp_run(stages, name, specs, queue, run_all, jobs, resources, as_json) -> int:
    """Run the pipeline with parameter overrides in the workspace and record the experiment."""
    from cairn.cli.pipeline import _Printer

    with opened(as_json) as repo:
        exps = _exps(repo)
        if run_all:
            results = exps.run_all(jobs, _run_queued_here)
            if as_json:
                emit_json(results)
            else:
                errors = {e.name: e.error for e in exps.queue_entries() if e.error}
                for n, status in results.items():
                    say(f"{n}: {status}" + (f" ({errors[n]})" if status != "success" and n in errors else ""))
            return 0 if all(s == "success" for s in results.values()) else 1
        if resources is not None and not (queue or len(_sweep_size(specs)) > 1):
            from cairn.errors import UserInputError

            raise UserInputError("--resources is for queued experiments", "add --queue")
        if queue or len(_sweep_size(specs)) > 1:
            if resources is not None:
                from cairn.repo.cluster import ClusterQueue

                entries = ClusterQueue(repo).enqueue(list(specs), name, list(stages), resources)
            else:
                entries = exps.enqueue(list(specs), name, list(stages))
            if as_json:
                emit_json([e.to_dict() for e in entries])
            else:
                for e in entries:
                    say(f"queued {e.name}: {' '.join(e.overrides) or '(no overrides)'}")
                say("Run them with `cairn queue start -j N` (background) or `cairn exp run --run-all -j N`.")
            return 0
        info = exps.run(list(specs), name, list(stages), jobs, _Printer(prefix=jobs > 1, quiet=as_json))
    if as_json:
        emit_json(info.to_dict())
    else:
        # FILE:KEY when several files: `acc=0.1, acc=0.2` would not say which is which
        several = len(info.metrics) > 1
        shown = ", ".join(
            f"{f'{file}:' if several else ''}{k}={v}"
            for file, values in info.metrics.items()
            for k, v in list(values.items())[:6]
        )
        say(f"Experiment {info.name!r}: {info.status}" + (f" ({shown})" if shown else ""))
        if info.error:
            say(info.error, err=True)
    return 0 if info.status == "success" else 1


def _sweep_size(specs) -> list:
    from cairn.experiments import overrides as ovr

    return ovr.combinations(ovr.parse(list(specs)))


@exp.command("save")
@click.option("-n", "--name", help="Experiment name (generated when not given).")
@json_option
def exp_save(name, as_json) -> None:
    """Record the workspace as it is as an experiment, running nothing: params, cairn.lock,
    metrics and pointers (outputs changed by hand are committed to the cache first)."""
    with opened(as_json) as repo:
        info = _exps(repo).save(name)
    if as_json:
        emit_json(info.to_dict())
    else:
        # FILE:KEY when several files: `acc=0.1, acc=0.2` would not say which is which
        several = len(info.metrics) > 1
        shown = ", ".join(
            f"{f'{file}:' if several else ''}{k}={v}"
            for file, values in info.metrics.items()
            for k, v in list(values.items())[:6]
        )
        say(f"Saved the workspace as experiment {info.name!r}" + (f" ({shown})" if shown else ""))


@exp.command("run-queued", hidden=True)
@click.argument("name")
def exp_run_queued(name: str) -> int:
    """(internal) Run one queued experiment in its temporary workspace."""
    import signal

    from cairn.cli.pipeline import _Printer

    # `queue kill` and a stopping worker send SIGTERM; turn it into the Ctrl-C path so the
    # stages (each in its own session) are stopped too, the run is recorded as killed and its
    # temporary workspace removed, instead of this process vanishing and orphaning them
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with opened() as repo:
        info = _exps(repo).run_queued(name, _Printer(prefix=True, quiet=False))
    say(f"Experiment {info.name!r}: {info.status}")
    return 0 if info.status == "success" else 1


def _run_queued_here(name: str) -> int:
    """`cairn exp run-queued NAME` in this process: what a queue runner's forked child runs
    instead of starting that program (no new interpreter, nothing to import again)."""
    from cairn.cli.main import main

    try:
        main(["exp", "run-queued", name])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except BaseException:
        import traceback

        traceback.print_exc()  # into its log, as Python prints it for the program
        return 1
    return 0


def _table(rows: list[dict[str, Any]], cols: list[str], fmt: str | None) -> None:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    if fmt == "md" or not sys.stdout.isatty():
        click.echo("| " + " | ".join(cols) + " |")
        click.echo("|" + "---|" * len(cols))
        for r in rows:
            click.echo("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in cols))
    Console().print(table)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@exp.command("show")
@click.option("-A", "--all", "all_", is_flag=True, help="Experiments of every baseline, not only HEAD's.")
@click.option("--sort-by", help="Column to sort by, e.g. metrics.acc.")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
@click.option("--filter", "filter_", help="Keep rows matching e.g. 'metrics.acc>0.9'.")
@click.option("--only-changed", is_flag=True, help="Hide columns whose value is the same everywhere.")
@click.option("--env", "with_env", is_flag=True, help="Add environment columns (python, platform, packages).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV output.")
@click.option("--md", "fmt", flag_value="md", help="Markdown table.")
@json_option
def exp_show(all_, sort_by, sort_order, filter_, only_changed, with_env, fmt, as_json) -> None:
    """One row per experiment: name, baseline, created, status, params and metrics."""
    from cairn.experiments import manage

    with opened(as_json) as repo:
        infos = _exps(repo).list(all_baselines=all_)
    env_keys = [f"env.{k}" for k in ("python", "platform", "fingerprint", "dirty")]
    rows = manage.flat_rows(infos)
    for row, info in zip(rows, infos, strict=True):
        # env columns are there for --filter and --sort-by even when --env does not show them
        row.update({k: info.env.get(k[4:]) for k in env_keys})
    if filter_:
        rows = manage.apply_filter(rows, filter_)
    rows = manage.sort_rows(rows, sort_by, sort_order)
    if not with_env:
        rows = [{k: v for k, v in r.items() if k not in env_keys} for r in rows]
    if as_json:
        emit_json(rows)
        return
    if not rows and filter_ and infos:
        say(f"No experiment matches {filter_!r}.")
        return
    if not rows:
        say("No experiments" + ("" if all_ else " for this commit (-A shows all)") + ". Run one with `cairn exp run`.")
        return
    cols = manage.columns(rows, only_changed)
    # grouped by baseline: rows sorted within each group, groups in order of first appearance
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r["baseline"], []).append({**r, "status": manage.status_text(r["status"], r["exit_code"])})
    _table([r for g in groups.values() for r in g], cols, fmt)


@exp.command("list")
@click.option("-A", "--all", "all_", is_flag=True, default=True, hidden=True)
@json_option
def exp_list(all_, as_json) -> None:
    """List experiments by name with baseline and status."""
    with opened(as_json) as repo:
        infos = _exps(repo).list(all_baselines=True)
    if as_json:
        emit_json(
            [
                {"name": i.name, "baseline": i.baseline, "status": i.status, "commit": i.commit, "ref": i.ref}
                for i in infos
            ]
        )
        return
    for i in infos:
        say(f"{i.name}\t{i.baseline[:7]}\t{i.status}\t{i.commit[:7]}")
    if not infos:
        say("No experiments.")


@exp.command("diff")
@click.argument("a")
@click.argument("b", required=False)
@json_option
def exp_diff(a, b, as_json) -> None:
    """Params, metrics and environment that differ between experiment A and B (default: the workspace)."""
    with opened(as_json) as repo:
        d = _exps(repo).diff(a, b)
        from cairn.repo.notebooks import exp_changes

        notebooks = exp_changes(repo, a, b)  # cell by cell, for notebooks stages depend on
    if as_json:
        emit_json({**d, **({"notebooks": notebooks} if notebooks else {})})
        return
    if notebooks:
        from cairn.cli.notebooks import show

        show(notebooks)
    for kind in ("params", "metrics"):
        for row in d[kind]:
            change = f" ({row['change']:+.6g})" if row["change"] is not None else ""
            say(f"{kind}\t{row['key']}\t{_cell(row['old'])} -> {_cell(row['new'])}{change}")
    for row in d["env"]:
        say(f"env\t{row['key']}\t{_cell(row['old'])} -> {_cell(row['new'])}")
    if not any(d.values()) and not notebooks:
        say("No differences.")


@exp.command("apply")
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted changes in the workspace.")
def exp_apply(name, force) -> None:
    """Put experiment NAME's params, lock and outputs into the workspace."""
    with opened() as repo:
        written = _exps(repo).apply(name, force)
    say(f"Applied {name!r}: {len(written)} file(s) updated, outputs checked out. Commit them to keep it.")


@exp.command("branch")
@click.argument("name")
@click.argument("branch")
def exp_branch(name, branch) -> None:
    """Create git branch BRANCH at experiment NAME."""
    with opened() as repo:
        _exps(repo).branch(name, branch)
    say(f"Created branch {branch!r} from experiment {name!r}. `git checkout {branch} && cairn checkout` to use it.")


@exp.command("remove")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Remove every experiment.")
@click.option("--older-than", help="Remove experiments created before DATE (YYYY-MM-DD).")
def exp_remove(names, all_, older_than) -> None:
    """Remove experiments (their refs; cached data goes with the next `cairn gc`)."""
    with opened() as repo:
        removed = _exps(repo).remove(list(names), all_, older_than)
    say(f"Removed {len(removed)} experiment(s)" + (f": {', '.join(removed)}" if removed else "."))


@exp.command("push")
@click.argument("git_remote")
@click.argument("names", nargs=-1)
@click.option("-r", "--remote", "cairn_remote", help="cairn remote for the data (default: core.remote).")
def exp_push(git_remote, names, cairn_remote) -> None:
    """Push experiment refs to GIT_REMOTE and their data to the cairn remote."""
    with opened() as repo:
        pushed = _exps(repo).push(git_remote, list(names), cairn_remote)
    say(f"Pushed {len(pushed)} experiment(s) to {git_remote}.")


@exp.command("pull")
@click.argument("git_remote")
@click.option("-r", "--remote", "cairn_remote", help="cairn remote for the data (default: core.remote).")
def exp_pull(git_remote, cairn_remote) -> None:
    """Fetch experiment refs from GIT_REMOTE and their data from the cairn remote."""
    with opened() as repo:
        pulled = _exps(repo).pull(git_remote, cairn_remote)
    say(f"Pulled {len(pulled)} new experiment(s) from {git_remote}.")


# -- the queue -------------------------------------------------------------------------------------
@click.group()
def queue() -> None:
    """Run queued experiments in the background, each in its own temporary workspace."""


def _executor_options(f):
    """How and where the queue runs: this machine (default) or a Ray cluster (docs/cluster.md)."""
    for option in reversed(
        [
            click.option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="Run here, or each experiment as a task on a Ray cluster (pip install 'cairn[ray]').",
            ),
            click.option(
                "--address", default="auto", show_default=True, help="With ray: the cluster, auto or HOST:PORT."
            ),
            click.option(
                "--max-retries",
                type=click.IntRange(0, 100),
                default=1,
                show_default=True,
                help="With ray: runs again on another node when its node is lost.",
            ),
            click.option(
                "--git-remote",
                default="origin",
                show_default=True,
                help="With ray: the git remote the nodes fetch from and push results to.",
            ),
        ]
    ):
        f = option(f)
    return f


@queue.command("start")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Experiments at once.")
@_executor_options
def queue_start(jobs, executor, address, max_retries, git_remote) -> None:
    """Start a background worker running queued experiments (here, or on a Ray cluster)."""
    with opened() as repo:
        if executor == "ray":
            from cairn.repo.cluster import ClusterQueue

            pid = ClusterQueue(repo, git_remote).start_worker(address, jobs, max_retries)
        else:
            pid = _exps(repo).start_worker(jobs)
    where = f" on the Ray cluster at {address}" if executor == "ray" else ""
    say(f"Queue worker started (pid {pid}, {jobs} at a time{where}). Follow with `cairn queue status`.")


@queue.command("worker", hidden=True)
@click.option("-j", "--jobs", type=int, default=1)
@_executor_options
@click.option("--ready-fd", type=int, hidden=True)
def queue_worker(jobs, executor, address, max_retries, git_remote, ready_fd) -> None:
    """(internal) The background worker loop."""
    with opened() as repo:
        if executor == "ray":
            from cairn.repo.cluster import ClusterQueue

            results = ClusterQueue(repo, git_remote).worker_loop(address, jobs, max_retries, ready_fd)
        else:
            results = _exps(repo).worker_loop(jobs, _run_queued_here)
    say(f"worker done: {results}")


@queue.command("stop")
@click.option(
    "--runners",
    is_flag=True,
    help="Instead: stop the long-lived runner each Ray node keeps between queues (see docs/cluster.md).",
)
@click.option("--address", default="auto", show_default=True, help="With --runners: the cluster, auto or HOST:PORT.")
def queue_stop(runners, address) -> None:
    """Stop the worker after the experiments it is running (queued ones stay queued)."""
    if runners:
        from cairn.repo.cluster import stop_runners

        stopped = stop_runners(address)
        say(f"Stopped {len(stopped)} runner(s) on the Ray cluster at {address}.")
        return
    with opened() as repo:
        pid = _exps(repo).stop_worker()
    say(f"Worker {pid} will stop after its running experiments." if pid else "No queue worker is running.")


@queue.command("status")
@json_option
def queue_status(as_json) -> None:
    """Queued, running and finished experiments (running ones with their latest logged metrics)."""
    with opened(as_json) as repo:
        exps = _exps(repo)
        entries = exps.queue_entries()
        live = {e.name: exps.live_metrics(e) for e in entries}
    if as_json:
        emit_json([{**e.to_dict(), "live": live[e.name]} for e in entries])
        return
    if not entries:
        say("The queue is empty.")
    from cairn.experiments.manage import exit_text

    for e in entries:
        took = f" {e.finished - e.started:.1f}s" if e.finished and e.started else ""
        # the failed stage's own exit code, or the signal that killed the stage or the run
        took += f" ({exit_text(e.exit_code)})" if e.exit_code else ""
        now = f" (running {time.time() - e.started:.0f}s)" if e.status == "running" and e.started else ""
        lv = " ".join(f"{k}={_cell(v)}" for k, v in live[e.name].items())
        say(
            f"{e.name}\t{e.status}{took}{now}\t{' '.join(e.overrides)}"
            + (f"\t[{lv}]" if lv else "")
            + _placement(e)
            + (f"\t{e.error}" if e.error and e.status != "success" else "")
        )


def _placement(entry) -> str:
    """`\t(ray, cpu=4,gpu=1)`: where a cluster entry runs and what it asks for; nothing for a
    plain local one."""
    if not entry.executor and not entry.resources:
        return ""
    from cairn.cluster.resources import label

    return "\t(" + ", ".join(x for x in (entry.executor, label(entry.resources)) if x) + ")"


@queue.command("logs")
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the experiment finishes.")
def queue_logs(name, follow) -> None:
    """Print the log of queued experiment NAME."""
    with opened() as repo:
        exps = _exps(repo)
        path = exps.log_path(name)
        if not any(e.name == name for e in exps.queue_entries()):
            from cairn.errors import UserInputError

            raise UserInputError(f"no queued experiment named {name!r}", "see `cairn queue status`")
        pos = 0
        while True:
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos += len(chunk)
                click.echo(chunk.decode(errors="replace"), nl=False)
            entry = next(e for e in exps.queue_entries() if e.name == name)
            if not follow or entry.status not in ("queued", "running"):
                break
            time.sleep(0.3)


@queue.command("kill")
@click.argument("name")
def queue_kill(name) -> None:
    """Stop running experiment NAME (recorded as killed)."""
    with opened() as repo:
        exps = _exps(repo)
        entry = next((e for e in exps.queue_entries() if e.name == name), None)
        if entry is not None and entry.executor and entry.status == "running":
            from cairn.repo.cluster import ClusterQueue

            ClusterQueue(repo).kill(entry)  # its pid is the driver's: the driver cancels the task
        else:
            exps.queue_kill(name)
    say(f"Killed {name!r}.")


@queue.command("remove")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Remove every entry that is not running.")
def queue_remove(names, all_) -> None:
    """Remove queued or finished entries from the queue."""
    from cairn.errors import UserInputError

    if not names and not all_:
        raise UserInputError("name the entries to remove", "or use --all")
    with opened() as repo:
        n = _exps(repo).queue_remove(None if all_ else list(names))
    say(f"Removed {n} entr{'y' if n == 1 else 'ies'}.")
