"""Data between repositories: ls, get, import, import-url, update (docs/sharing.md)."""

from __future__ import annotations

import click

from cairn.cli.data import gitignore_of, json_option, opened
from cairn.cli.output import close_progress, emit_json, human_size, progress_for, say

rev_option = click.option(
    "--rev", metavar="REV", help="A branch, tag or full commit id of the source (default: its HEAD)."
)
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
remote_option = click.option(
    "-r", "--remote", "remote_name", metavar="NAME", help="The source's data remote to read (default: its default)."
)


@click.command()
@click.argument("repo_url", metavar="REPO")
@click.argument("path", required=False, default="")
@rev_option
@click.option("-R", "--recursive", is_flag=True, help="List everything below PATH, tracked folders' files included.")
@remote_option
@json_option
def ls(repo_url: str, path: str, rev: str | None, recursive: bool, remote_name: str | None, as_json: bool) -> None:
    """List what the repository REPO (a git URL or a path) has at PATH: its git files and folders,
    and the data it tracks with sizes and file counts. Only git objects are fetched (no data);
    the contents of a tracked folder are read from its tree objects on the source's remote."""
    from cairn.repo.sharing import ls as ls_op

    doc = ls_op(repo_url, path, rev, recursive, remote_name)
    if as_json:
        emit_json(doc)
        return
    for e in doc["entries"]:
        if e["tracked"] == "git":
            say(f"{e['path']}{'/' if e['kind'] == 'folder' else ''}")
        else:
            count = f", {e['files']} files" if e["kind"] == "folder" else ""
            say(f"{e['path']}{'/' if e['kind'] == 'folder' else ''}  [{human_size(e['size'])}{count}]")


@click.command()
@click.argument("repo_url", metavar="REPO")
@click.argument("path")
@rev_option
@click.option("-o", "--out", type=click.Path(), help="Where to write it (default: its name, here).")
@jobs_option
@remote_option
@json_option
def get(repo_url, path, rev, out, jobs, remote_name, as_json) -> None:
    """Download PATH, which the repository REPO tracks, from that repository's data remote:
    verified, with no pointer and no link to the source. Works outside any repository; inside
    one, its settings for the same remote URL (credentials, endpoint) apply. A path git tracks
    there (code, configs) comes from git."""
    from cairn.repo.sharing import download

    progress = progress_for(as_json)
    try:
        doc = download(repo_url, path, rev, out, jobs, progress, remote_name)
    finally:
        close_progress(progress)
    if as_json:
        emit_json(doc)
        return
    size = f"{_files(doc['files'])} tracked by git" if doc["kind"] == "git" else ""
    size = size or f"{human_size(doc['size'])}, {_files(doc['files'])}"
    say(f"Downloaded {path} to {doc['out']} ({size}) from {doc['commit'][:12]}.")


@click.command(name="import")
@click.argument("repo_url", metavar="REPO")
@click.argument("path")
@rev_option
@click.option("-o", "--out", type=click.Path(), help="Where to put it in this repository (default: its name, here).")
@jobs_option
@remote_option
@json_option
def import_(repo_url, path, rev, out, jobs, remote_name, as_json) -> None:
    """Import PATH from the repository REPO: download it as `get` does, into the cache, and write
    OUT.cairn recording the source (URL, --rev, the commit it resolved to, PATH). Commit the
    pointer; `cairn update` moves it to the source's newer version, `cairn push` sends the data
    to this repository's remote."""
    from cairn.repo.sharing import import_repo

    with opened(as_json) as repo:
        doc = import_repo(repo, repo_url, path, rev, out, remote_name, jobs)
    if as_json:
        emit_json(doc)
        return
    source = doc["source"]
    say(
        f"Imported {path} from {source['url']} at {source['commit'][:12]} into {doc['path']} "
        f"({human_size(doc['size'])}, {_files(doc['files'])})."
    )
    say(f"Commit it: git add {doc['pointer']} {gitignore_of(doc['path'])}")


@click.command(name="import-url")
@click.argument("url")
@click.argument("out", required=False, type=click.Path())
@click.option(
    "--no-download",
    is_flag=True,
    help="Record the source and its version (reading the data once to hash it) without keeping the data; "
    "`cairn update` downloads it.",
)
@json_option
def import_url(url: str, out: str | None, no_download: bool, as_json: bool) -> None:
    """Track the file or folder at URL (s3://, gs://, az://, http(s)://, or a local path) as OUT
    (default: its name), recording its version (version id, ETag, modification time, size) so
    `cairn update` downloads it again only when it changed. Storage settings (endpoint,
    credentials) come from the environment and from a remote of this repository whose URL is a
    prefix of URL."""
    from cairn.repo.sharing import import_url as import_url_op

    with opened(as_json) as repo:
        doc = import_url_op(repo, url, out, no_download)
    if doc["warning"]:
        click.echo(f"warning: {doc['warning']}", err=True)
    if as_json:
        emit_json(doc)
        return
    verb = "Recorded" if no_download else "Imported"
    say(f"{verb} {url} as {doc['path']} ({human_size(doc['size'])}, {_files(doc['files'])}).")
    say(f"Commit it: git add {doc['pointer']} {gitignore_of(doc['path'])}")


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--rev", metavar="REV", help="Move repository imports to this revision of their source.")
@click.option("-f", "--force", is_flag=True, help="Replace the data even where it was changed in the workspace.")
@jobs_option
@json_option
def update(targets: tuple[str, ...], rev: str | None, force: bool, jobs: int | None, as_json: bool) -> None:
    """Move imports (TARGETS, or every import) to their source's current version: a repository
    import to the commit its --rev names now, a URL import to what the URL holds now (downloaded
    only when its version information changed). Refuses to replace data changed in the
    workspace unless --force."""
    from cairn.repo.sharing import update as update_op

    with opened(as_json) as repo:
        results = update_op(repo, list(targets), rev, force, jobs)
    if as_json:
        emit_json(results)
        return
    if not results:
        say("No imports here. Make one with `cairn import REPO PATH` or `cairn import-url URL`.")
    for r in results:
        if r["updated"]:
            why = f", {r['reason']}" if r.get("reason") else ""
            say(f"{r['path']}: updated ({r['from']['oid'][:12]} -> {r['to']['oid'][:12]}{why})")
        else:
            say(f"{r['path']}: up to date" + (f" ({r['reason']})" if r.get("reason") else ""))


def _files(n: int) -> str:
    return "1 file" if n == 1 else f"{n} files"
