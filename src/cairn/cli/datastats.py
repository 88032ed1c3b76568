"""`cairn data` (stats, diff, check) and `cairn monitor` (run, show): statistics of data
versions, drift between them, schema checks, and production batches watched against a reference."""

from __future__ import annotations

import click

from cairn.cli.data import opened
from cairn.cli.output import emit_json

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
remote_option = click.option(
    "-r", "--remote", "remote_name", metavar="NAME", help="Remote to read stats from when the data is not here."
)


@click.group()
def data() -> None:
    """Statistics, drift and schema checks of tracked data (docs/datastats.md)."""


@data.command()
@click.argument("path")
@click.option("--rev", metavar="REV", help="The version at this git revision (default: the workspace).")
@remote_option
@click.option("--all", "show_all", is_flag=True, help="Show every stored value (all quantiles, histograms).")
@json_option
def stats(path: str, rev: str | None, remote_name: str | None, show_all: bool, as_json: bool) -> None:
    """Show the statistics of PATH: rows and, per column, type, nulls, distinct values, min, max,
    mean, std, quantiles, a histogram and the top categories. A folder of other files shows its
    file count, sizes and extensions.

    Computed once per version and stored in the cache (pushed and pulled with the data), so asking
    again is instant and a past version's stats come from the remote without its data."""
    from cairn.repo import datastats

    with opened(as_json) as repo:
        doc = datastats.stats(repo, path, rev, remote_name)
    if as_json:
        emit_json(doc)
        return
    from cairn.datastats.render import stats_text

    click.echo(stats_text(doc, show_all))


def _thresholds(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, num = v.partition("=")
        try:
            out[name.strip()] = float(num)
        except ValueError:
            raise click.BadParameter(f"{v!r} is not METHOD=NUMBER (e.g. psi=0.2)", param_hint="--threshold") from None
        if not sep:
            raise click.BadParameter(f"{v!r} is not METHOD=NUMBER (e.g. psi=0.2)", param_hint="--threshold")
    return out


@data.command("diff")
@click.argument("path")
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--stats", "show_stats", is_flag=True, help="Also compare statistics and test every column for drift.")
@click.option(
    "--numeric", default="wasserstein", show_default=True, help="Drift score of numeric columns: wasserstein, psi, ks."
)
@click.option(
    "--categorical",
    default="jensenshannon",
    show_default=True,
    help="Drift score of categorical columns: jensenshannon, psi, chisquare.",
)
@click.option("--threshold", "thresholds", multiple=True, metavar="METHOD=VALUE", help="A score's drift threshold.")
@click.option("--drift-share", default=0.5, show_default=True, help="Share of drifted columns that is dataset drift.")
@click.option("--pvalues", is_flag=True, help="Decide by p-values (KS, chi-squared) below --alpha instead of scores.")
@click.option("--alpha", default=0.05, show_default=True, help="Significance level with --pvalues.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the dataset drifts (for CI).")
@remote_option
@json_option
def diff_cmd(
    path,
    a,
    b,
    show_stats,
    numeric,
    categorical,
    thresholds,
    drift_share,
    pvalues,
    alpha,
    fail_on_drift,
    remote_name,
    as_json,
) -> int:
    """Compare PATH between revision A (default HEAD) and B (default: the workspace): columns
    added, removed or retyped; with --stats the changes of every statistic and a drift test per
    column with its score and verdict, computed from the stored stats of both versions."""
    from cairn.datastats.drift import DEFAULT_THRESHOLDS, DriftOptions
    from cairn.datastats.render import diff_text
    from cairn.repo import datastats

    opts = DriftOptions(
        numeric=numeric,
        categorical=categorical,
        thresholds={**DEFAULT_THRESHOLDS, **_thresholds(thresholds)},
        drift_share=drift_share,
        pvalues=pvalues,
        alpha=alpha,
    )
    show_stats = show_stats or fail_on_drift
    with opened(as_json) as repo:
        doc = datastats.diff(repo, path, a, b, opts, remote_name)
    if as_json:
        emit_json(doc)
    else:
        click.echo(diff_text(doc, show_stats))
    drifted = doc.get("dataset", {}).get("drift", False)
    return 1 if fail_on_drift and drifted else 0


@data.command("check")
@click.argument("paths", nargs=-1)
@click.option("--rev", metavar="REV", help="Check the versions at this git revision (against today's schema).")
@remote_option
@json_option
def check_cmd(paths: tuple[str, ...], rev: str | None, remote_name: str | None, as_json: bool) -> int:
    """Check datasets against the `schema:` of cairn.yaml (columns, types, allowed null share,
    ranges, categories): every dataset with a schema, or PATHS. Exits 1 when one breaks it."""
    from cairn.repo import datastats

    with opened(as_json) as repo:
        doc = datastats.check(repo, list(paths), rev, remote_name)
    if as_json:
        emit_json(doc)
    else:
        for d in doc["datasets"]:
            click.echo(f"{d['path']}: {'ok' if d['ok'] else 'FAILED'}")
            for p in d["problems"]:
                click.echo(f"  {p}")
    return 0 if doc["ok"] else 1


@click.group()
def monitor() -> None:
    """Watch production batches against reference data: `monitors:` in cairn.yaml say which
    reference, features and thresholds (docs/datastats.md)."""


@monitor.command("run")
@click.argument("name")
@click.argument("batches", nargs=-1, required=True)
@remote_option
@json_option
def monitor_run(name: str, batches: tuple[str, ...], remote_name: str | None, as_json: bool) -> int:
    """Compare a production BATCH (CSV/TSV, Parquet or JSON Lines files, folders of them, or a URL
    prefix such as s3://bucket/logs/day1/, read with the settings of remote -r or the default) with
    monitor NAME's reference: drift per feature, a health score, a row appended to the monitor's
    history. On alert (the batch drifts, or health falls below min_health) runs the monitor's
    on_alert command with the summary as JSON on stdin, and exits 1."""
    from cairn.repo import datastats

    with opened(as_json) as repo:
        s = datastats.monitor_run(repo, name, list(batches), remote_name)
    if as_json:
        emit_json(s)
    else:
        state = "ALERT" if s["alert"] else "ok"
        click.echo(
            f"monitor {name}: {state}  health {s['health']:.2f} (min {s['min_health']:.2f}), "
            f"{s['drifted']} of {s['tested']} features drifted, {s['rows']:,} rows"
        )
        for f in s["drifted_features"]:
            click.echo(f"  drifted: {f} (score {s['scores'][f]:.4g})")
        if "metrics" in s:
            click.echo("  metrics: " + (", ".join(f"{k} {v:.4g}" for k, v in s["metrics"].items()) or "none"))
        for problem in s.get("metric_failures", []):
            click.echo(f"  out of bounds: {problem}")
        for w in s["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if "on_alert" in s:
            click.echo(f"on_alert: `{s['on_alert']['command']}` exited {s['on_alert']['exit']}", err=True)
        click.echo(f"history: {s['history']}")
    return 1 if s["alert"] else 0


@monitor.command("show")
@click.argument("name")
@click.option("--html", "html_dir", metavar="DIR", help="Also write an offline trend page into DIR.")
@json_option
def monitor_show(name: str, html_dir: str | None, as_json: bool) -> None:
    """Show monitor NAME's history: one row per batch with its health and drift scores."""
    from cairn.repo import datastats

    with opened(as_json) as repo:
        doc = datastats.monitor_show(repo, name, html_dir)
    if as_json:
        emit_json(doc)
        return
    rows = doc["rows"]
    if not rows:
        click.echo(f"monitor {name}: no batches yet (run `cairn monitor run {name} BATCH`)")
    else:
        click.echo(f"{'time':<26} {'health':>7} {'drifted':>8} {'alert':>6}  batch")
        for r in rows:
            drifted = f"{r['drifted']}/{r['tested']}"
            health = "-" if r["health"] is None else f"{r['health']:.2f}"
            alert = "true" if r["alert"] else "false"
            click.echo(f"{r['time']:<26} {health:>7} {drifted:>8} {alert:>6}  {r['batch']}")
    if "html" in doc:
        click.echo(f"trend page: {doc['html']}")
