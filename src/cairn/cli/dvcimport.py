"""`cairn import-dvc`: move a DVC project to cairn."""

from __future__ import annotations

import click

from cairn.cli.output import close_progress, emit_json, progress_for, say


@click.command("import-dvc")
@click.option(
    "-r",
    "--remote",
    metavar="DVC_REMOTE",
    help="Also copy this DVC remote's data (what the project's current versions need) into the "
    "cairn remote of the same name.",
)
@click.option("--dry-run", is_flag=True, help="Check and report what would be converted; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_dvc(remote: str | None, dry_run: bool, as_json: bool) -> None:
    """Convert the DVC project here: dvc.yaml -> cairn.yaml, dvc.lock -> cairn.lock, .dvc files
    -> .cairn pointers, .dvcignore -> .cairnignore, DVC remotes -> cairn remotes.

    The data is read from the workspace, the DVC cache (DVC 2 or 3 layout) or, with --remote,
    the DVC remote, checked against DVC's md5 and stored in cairn's cache, so that afterwards
    `cairn status` says everything is up to date and `cairn repro` reruns nothing that DVC would
    not. Anything that cannot be converted is listed and nothing is written. See docs/dvc.md."""
    from cairn.repo.dvcimport import import_dvc as run

    progress = progress_for(as_json)
    try:
        result = run(remote=remote, dry_run=dry_run, progress=progress)
    finally:
        close_progress(progress)
    if as_json:
        emit_json(result.to_dict())
        return
    plan = result.plan
    verb = "would write" if dry_run else "wrote"
    if result.initialized:
        say(f"initialized cairn in {result.root}/.cairn")
    say(f"{verb} {len(plan.pointers)} pointer(s), {len(plan.stages)} stage(s) ({len(plan.locked)} with a lock entry)")
    for rel in sorted(plan.files):
        say(f"  {rel}")
    for name, why in plan.rerun.items():
        say(f"stage {name} will run on the next `cairn repro`: {'; '.join(why)}")
    for name in result.remotes_added:
        say(f"remote {name} added (cairn's files go into a `cairn` folder beside DVC's)")
    if result.pushed is not None:
        say(f"pushed {result.pushed} object(s) to remote {remote}")
    for note in plan.notes:
        say(f"note: {note}", err=True)
    if not dry_run:
        # a command to copy as it is: each file once (pointers at the top are in plan.files too),
        # and a pathspec git expands rather than "..." when there are many pointers
        pointers = plan.pointers if len(plan.pointers) <= 3 else ["'*.cairn'"]
        top = [r for r in sorted(plan.files) if "/" not in r and not r.endswith(".cairn")]
        say(f"next: git add {' '.join(dict.fromkeys(['.cairn', *pointers, *top]))}")
