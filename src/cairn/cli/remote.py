"""`cairn remote ...` and the transfer commands `push`, `fetch`, `pull`."""

from __future__ import annotations

import os

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import emit_json, human_size, say
from cairn.repo.config import redacted


@click.group()
def remote() -> None:
    """Manage remotes: where `cairn push` sends data and `cairn pull` gets it.

    URLs: a folder path (a relative path is taken from where you are and stored relative to the
    repo root) or file://, s3://bucket/prefix (pip install "cairn[s3]"), gs://, az://, ssh://
    (extras gs, azure, ssh)."""


def _from_root(repo, url: str) -> str:
    """A relative folder typed in a subfolder, made relative to the repository root, where the
    config reads it: `../store` typed in data/ means the folder beside the repository, as for
    every other path argument. Typed at the root it is kept as written."""
    if "://" in url or url.startswith("file:") or os.path.isabs(url) or url.startswith("~"):
        return url
    if os.path.abspath(os.curdir) == os.path.abspath(repo.root):
        return url
    return os.path.relpath(os.path.abspath(url), repo.root)


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("-d", "--default", "make_default", is_flag=True, help="Make it the default remote.")
@click.option("--local", is_flag=True, help="Write to .cairn/config.local.toml (not committed).")
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
def remote_add(name: str, url: str, make_default: bool, local: bool, force: bool) -> None:
    """Add remote NAME at URL."""
    with opened() as repo:
        url = _from_root(repo, url)
        repo.remotes.add(name, url, make_default, local, force)
    say(f"Added remote {name!r} at {redacted('url', url)}" + (" (default)" if make_default else ""))


@remote.command("list")
@json_option
def remote_list(as_json: bool) -> None:
    """List remotes (credentials are never shown)."""
    with opened(as_json) as repo:
        remotes, default = repo.remotes.list(), repo.remotes.default()
    shown = {n: {k: redacted(k, v) for k, v in spec.items()} for n, spec in remotes.items()}
    if as_json:
        emit_json({"default": default, "remotes": shown})
        return
    if not remotes:
        say("No remotes. Add one with `cairn remote add -d NAME URL`.")
    for name, spec in sorted(shown.items()):
        extra = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "url")
        say(
            f"{name}\t{spec.get('url', '?')}"
            + (f"\t({extra})" if extra else "")
            + ("\t[default]" if name == default else "")
        )


@remote.command("modify")
@click.argument("name")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--local", is_flag=True, help="Write to .cairn/config.local.toml (needed for credentials).")
@click.option("--unset", is_flag=True, help="Remove the setting.")
def remote_modify(name: str, key: str, value: str | None, local: bool, unset: bool) -> None:
    """Set KEY of remote NAME: url, endpoint_url, region, profile, jobs, pack_size; account_name,
    tenant_id, client_id (Azure); project (GCS); username, port (SFTP). Credentials only with
    --local: access_key_id, secret_access_key, session_token, account_key, connection_string,
    sas_token, client_secret, token, password, passphrase, client_keys."""
    if value is None and not unset:
        raise click.UsageError("give a VALUE, or --unset to remove the setting")
    with opened() as repo:
        if key == "url" and value is not None:
            value = _from_root(repo, value)
        repo.remotes.modify(name, key, None if unset else value, local)
    say(f"{'Unset' if unset else 'Set'} {key} of remote {name!r}")


@remote.command("remove")
@click.argument("name")
def remote_remove(name: str) -> None:
    """Remove remote NAME from the configuration (its data stays where it is)."""
    with opened() as repo:
        repo.remotes.remove(name)
    say(f"Removed remote {name!r}")


@remote.command("default")
@click.argument("name", required=False)
@click.option("--local", is_flag=True, help="Write to .cairn/config.local.toml.")
@json_option
def remote_default(name: str | None, local: bool, as_json: bool) -> None:
    """Show the default remote, or make NAME the default."""
    with opened(as_json) as repo:
        if name is None:
            current = repo.remotes.default()
            if as_json:  # showing it is a read: --json as for every read command
                emit_json({"default": current})
                return
            say(current if current else "No default remote (set one with `cairn remote default NAME`).")
            return
        repo.remotes.set_default(name, local)
    if as_json:
        emit_json({"default": name})
        return
    say(f"Default remote: {name}")


def _scope(f):
    for opt in reversed(
        [
            click.argument("targets", nargs=-1, type=click.Path()),
            click.option("-r", "--remote", "remote_name", help="Remote to use (default: core.remote)."),
            click.option(
                "-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers (default 8, local: 1/core)."
            ),
            click.option("-a", "--all-branches", is_flag=True, help="Also what every branch tip references."),
            click.option("-T", "--all-tags", is_flag=True, help="Also what every tag references."),
            click.option("-A", "--all-commits", is_flag=True, help="Also what any commit references."),
            json_option,
        ]
    ):
        f = opt(f)
    return f


def _report(verb: str, result, as_json: bool, remote_name: str | None) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    if result.transferred:
        say(f"{result.transferred} object(s) {verb} ({human_size(result.bytes)}); {result.skipped} already there.")
    else:
        say(f"Everything is up to date ({result.skipped} object(s) already there).")
    if result.missing:
        say(f"warning: {len(result.missing)} object(s) are in neither place and were not {verb}", err=True)
        # named, so they can be looked for (`cairn fsck`, another clone), and what fixes it
        for oid in sorted(result.missing)[:10]:
            say(f"  missing: {oid}", err=True)
        if len(result.missing) > 10:
            say(f"  ... and {len(result.missing) - 10} more (`--json` lists all)", err=True)
        fix = (
            "`cairn fetch` them from a remote that has them, or push from a clone that has them"
            if verb == "pushed"
            else "`cairn push` them from a clone that has them (`cairn push --verify` if they were lost on the remote)"
        )
        say(f"  hint: {fix}", err=True)


run_cache_option = click.option(
    "--run-cache", is_flag=True, help="Also share the run-cache (pipeline runs and their outputs)."
)


@click.command()
@_scope
@run_cache_option
@click.option(
    "--verify",
    is_flag=True,
    help="Check the remote's copies first (download and hash them): send again what it lost or damaged.",
)
def push(targets, remote_name, jobs, all_branches, all_tags, all_commits, as_json, run_cache, verify) -> int:
    """Upload what the pointers and pipeline outputs reference (or TARGETS) to a remote; only
    missing objects move. Small files travel packed, so many small files cost few requests.

    cairn remembers what the remote holds, so a push with nothing to do asks the remote one
    question. With --verify it lists the remote again and downloads and checks every object it
    would skip: lost or damaged copies are sent again (damaged ones are removed)."""
    with opened(as_json) as repo:
        roots = repo.transfer_roots(targets, all_branches, all_tags, all_commits)
        scope = {"all_branches": all_branches, "all_tags": all_tags, "all_commits": all_commits}
        result = repo.push(roots, remote_name, jobs, verify=verify, scope=scope)
        runs = repo.push_run_cache(remote_name, jobs) if run_cache else None
    _report("pushed", result, as_json, remote_name)
    if result.verified is not None and not as_json:
        v = result.verified
        say(
            f"Verified {v.checked} object(s) on the remote: {len(v.damaged)} damaged, {len(v.lost)} lost"
            + (" (sent again where this clone has them)." if v.damaged or v.lost else ".")
        )
    if runs is not None and not as_json:
        say(f"{runs} run-cache entr{'y' if runs == 1 else 'ies'} pushed.")
    return 1 if result.missing else 0


@click.command()
@_scope
def fetch(targets, remote_name, jobs, all_branches, all_tags, all_commits, as_json) -> None:
    """Download what the pointers reference (or TARGETS) into the cache, without checking out.

    Every object is verified against its id before it enters the cache."""
    with opened(as_json) as repo:
        roots = repo.transfer_roots(targets, all_branches, all_tags, all_commits)
        result = repo.fetch(roots, remote_name, jobs)
    _report("fetched", result, as_json, remote_name)


@click.command()
@_scope
@run_cache_option
def pull(targets, remote_name, jobs, all_branches, all_tags, all_commits, as_json, run_cache) -> None:
    """fetch, then checkout: make the workspace match the pointers with data from a remote."""
    with opened(as_json) as repo:
        if run_cache:
            runs = repo.pull_run_cache(remote_name, jobs)
            if not as_json:
                say(f"{runs} run-cache entr{'y' if runs == 1 else 'ies'} pulled.")
        result, checked = repo.pull(
            targets, remote_name, jobs, all_branches=all_branches, all_tags=all_tags, all_commits=all_commits
        )
    if as_json:
        emit_json({**result.to_dict(), "checkout": [c.__dict__ for c in checked]})
        return
    _report("fetched", result, as_json, remote_name)
    for c in checked:
        if c.written or c.removed:
            say(f"{c.path}: {len(c.written)} written, {len(c.removed)} removed")
