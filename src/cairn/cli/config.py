"""`cairn config KEY [VALUE]`."""

from __future__ import annotations

import click

from cairn.cli.output import emit_json, say
from cairn.repo import Repo
from cairn.repo.config import coerce, write
from cairn.workspace.linking import parse_link_types


@click.command()
@click.argument("key")
@click.argument("value", required=False)
@click.option("--local", is_flag=True, help="Write to .cairn/config.local.toml (not committed).")
@click.option("--unset", is_flag=True, help="Remove the key.")
@click.option("--json", "as_json", is_flag=True, help="Print the value as JSON.")
def config(key: str, value: str | None, local: bool, unset: bool, as_json: bool) -> None:
    """Get or set a configuration value, e.g. `cairn config cache.type hardlink,copy`."""
    repo = Repo.find()
    if unset:
        repo.config.get(key)  # validates the key name (coerce would also judge the empty value)
        write(repo.dot, key, None, local)
    elif value is None:
        current = repo.config.get(key)
        emit_json({key: current}) if as_json else say(_shown(current))
    else:
        parsed = coerce(key, value)
        if key == "cache.type":
            parse_link_types(parsed)  # refuse a typo now, not at every later command
        write(repo.dot, key, parsed, local)


def _shown(value: object) -> str:
    """A value as it is written on the command line (`true`, `hardlink,copy`), not as Python's
    repr (`True`, `['hardlink', 'copy']`), so what `cairn config KEY` prints can be set again."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_shown(v) for v in value)
    return "" if value is None else str(value)
