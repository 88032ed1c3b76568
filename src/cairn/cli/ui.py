"""`cairn ui`: the local, read-only web dashboard."""

from __future__ import annotations

import threading

import click

from cairn.cli.output import say

LOCAL = ("127.0.0.1", "localhost", "::1")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option(
    "--port",
    default=0,
    type=click.IntRange(0, 65535),
    show_default=True,
    help="Port (0: any free port; the line printed says which).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the dashboard in a browser once it answers.")
def ui(host: str, port: int, open_page: bool) -> None:
    """Serve a read-only dashboard of this repository: the experiments table (sort, filter,
    choose columns, select), Compare (params, metrics and plots of chosen runs), Trends, the
    Pipeline graph with each stage's state, Lineage, Data versions and statistics, Models and
    the Queue. Everything is served from the package: no network needed. Prints `serving on
    http://HOST:PORT/`; stops with Ctrl-C. See docs/ui.md."""
    from cairn.repo import dashboard
    from cairn.repo.repo import Repo

    if host not in LOCAL:
        click.echo(
            f"warning: listening on {host}, not 127.0.0.1: anyone who can reach this machine can read "
            "this repository's experiments and pipeline through the dashboard",
            err=True,
        )
    root = Repo.find().root

    def ready(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}/"
        click.echo(f"serving on {url}")
        say("Ctrl-C stops it.", err=True)
        if open_page:  # in a thread: a BROWSER command that waits for its window must not stall serving
            threading.Thread(target=_open, args=(url,), daemon=True).start()

    dashboard.serve(root, host, port, ready)


def _open(url: str) -> None:
    import webbrowser  # honours $BROWSER

    if not webbrowser.open(url):
        click.echo(f"note: no browser to open; the dashboard is at {url}", err=True)
