"""Entry point. Commands are registered lazily: `cairn --help` imports no command module, no
rich, no git binding, so start-up stays fast."""

from __future__ import annotations

import importlib
import sys

import click

from cairn import __version__

# name -> (module:function, one-line help shown by `cairn --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cairn.cli.data:init", "Set up cairn in this git repository."),
    "add": ("cairn.cli.data:add", "Track files or folders: cache them and write PATH.cairn pointers."),
    "status": ("cairn.cli.data:status", "Show what changed in tracked data against the pointers."),
    "diff": ("cairn.cli.data:diff", "Show file-level changes of tracked data between revisions."),
    "checkout": ("cairn.cli.data:checkout", "Make tracked data in the workspace match the pointers."),
    "gc": ("cairn.cli.data:gc", "Remove cache objects that nothing references."),
    "fsck": ("cairn.cli.data:fsck", "Verify every cache object against its id."),
    "unprotect": ("cairn.cli.data:unprotect", "Turn linked, read-only tracked files into writable copies."),
    "install-hooks": (
        "cairn.cli.data:install_hooks",
        "Git hooks: `cairn checkout` after checkouts and pulls.",
    ),
    "merge": ("cairn.cli.merge:merge", "Merge tracked data with git: driver setup and conflict resolution."),
    "remote": ("cairn.cli.remote:remote", "Manage remotes (add, list, modify, remove, default)."),
    "push": ("cairn.cli.remote:push", "Upload tracked data to a remote (only what is missing there)."),
    "pull": ("cairn.cli.remote:pull", "Download tracked data from a remote and check it out."),
    "fetch": ("cairn.cli.remote:fetch", "Download tracked data from a remote into the cache."),
    "repro": ("cairn.cli.pipeline:repro", "Run the pipeline stages whose inputs changed."),
    "dag": ("cairn.cli.pipeline:dag", "Show the pipeline graph (text, mermaid, dot, json)."),
    "lineage": ("cairn.cli.lineage:lineage", "Show where an output came from: stages, data, params, code, commits."),
    "stage": ("cairn.cli.pipeline:stage", "Add or list pipeline stages in cairn.yaml."),
    "env": ("cairn.cli.env:env", "Show, compare and export the environments stages ran in."),
    "exp": ("cairn.cli.exp:exp", "Run, compare, apply and share experiments."),
    "queue": ("cairn.cli.exp:queue", "Run queued experiments in the background."),
    "params": ("cairn.cli.metrics:params", "Compare params between revisions (params diff)."),
    "metrics": ("cairn.cli.metrics:metrics", "Show, compare and follow metrics across revisions."),
    "plots": ("cairn.cli.metrics:plots", "Draw plots of one or more revisions into an HTML page (and PNGs)."),
    "check": ("cairn.cli.checks:check", "Run the checks of cairn.yaml on metrics (CI gate; JUnit XML)."),
    "report": ("cairn.cli.checks:report", "Write a pull-request report: checks, diffs, reran stages, plots."),
    "model": ("cairn.cli.model:model", "Model registry: register, assign stages, get, bundle, serve, compare."),
    "ls": ("cairn.cli.sharing:ls", "List the files and tracked data of another repository."),
    "get": ("cairn.cli.sharing:get", "Download data another repository tracks (no pointer)."),
    "import": ("cairn.cli.sharing:import_", "Import data from another repository, recording its source."),
    "import-url": ("cairn.cli.sharing:import_url", "Track data at a URL (s3, gs, az, https, path) with its version."),
    "update": ("cairn.cli.sharing:update", "Move imports to their source's newer version."),
    "remove": ("cairn.cli.everyday:remove", "Stop tracking data or remove a stage (the data stays unless --outs)."),
    "move": ("cairn.cli.everyday:move", "Move tracked data together with its pointer."),
    "commit": ("cairn.cli.everyday:commit", "Record data or outputs changed by hand, without rerunning."),
    "freeze": ("cairn.cli.everyday:freeze", "Freeze stages: repro and status treat them as up to date."),
    "unfreeze": ("cairn.cli.everyday:unfreeze", "Unfreeze stages."),
    "import-dvc": ("cairn.cli.dvcimport:import_dvc", "Convert the DVC project here to cairn (pipeline, data, remote)."),
    "data": ("cairn.cli.datastats:data", "Statistics, drift and schema checks of data versions."),
    "monitor": ("cairn.cli.datastats:monitor", "Watch production batches against reference data (drift, alerts)."),
    "config": ("cairn.cli.config:config", "Get or set a configuration value."),
    "cache": ("cairn.cli.usercache:cache", "Show or prune the per-user cache of other repositories (not your data)."),
    "notebooks": ("cairn.cli.notebooks:notebooks", "Notebooks: git diff/merge setup, notebook stages, HTML export."),
    "ui": ("cairn.cli.ui:ui", "Serve a local, read-only web dashboard of experiments, pipeline, data and models."),
    "completion": ("cairn.cli.completion:completion", "Print the shell completion script for bash, zsh or fish."),
}


# called with the command's name once its module is imported (cli/entry.py turns the GC back on there)
on_command_loaded = None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attr = spec[0].partition(":")
        command = getattr(importlib.import_module(module), attr)
        if on_command_loaded is not None:
            on_command_loaded(cmd_name)
        return command

    def resolve_command(self, ctx, args):
        name = click.utils.make_str(args[0]) if args else ""
        if args and name not in COMMANDS and not name.startswith("-"):
            import difflib

            near = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean `cairn {near[0]}`?" if near else " See `cairn --help`."
            ctx.fail(f"no such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, spec[1]) for name, spec in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="cairn")
@click.option("-v", "--verbose", count=True, help="Say more (repeat for more detail).")
@click.option("-q", "--quiet", count=True, help="Say less: only errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """cairn: version control for machine-learning data, pipelines and experiments.

    Data and models live in a content-addressed cache; small PATH.cairn pointer files go
    into git next to your code. Run `cairn CMD --help` for any command."""
    ctx.obj = {"verbosity": verbose - quiet}


def _terminate(signum, frame) -> None:
    # SIGTERM (kill, `queue kill`) stops like Ctrl-C: running stages are terminated, nothing
    # half-done is recorded
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    import signal

    from cairn.errors import CairnError

    signal.signal(signal.SIGTERM, _terminate)

    try:
        rv = cli.main(args=argv, prog_name="cairn", standalone_mode=False)
    except CairnError as e:
        from cairn.cli.output import show_error

        show_error(e)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except PermissionError as e:
        # The library wraps the permission errors it expects; any other (an unwritable data folder
        # or cache) still gets a message and the documented exit code, not a traceback.
        from cairn.cli.output import show_error
        from cairn.errors import PermissionDeniedError

        err = PermissionDeniedError(
            f"permission denied: {e.filename or e.strerror}",
            "make that path and its folder writable by you (ls -ld shows the owner and mode)",
        )
        show_error(err)
        sys.exit(err.exit_code)
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as e:
        # an output path given on the command line (`--junit FILE`, `-o DIR`) with a file where
        # a folder must go, or the other way round: the user's to fix, not a traceback
        from cairn.cli.output import show_error
        from cairn.errors import PathError

        err = PathError(
            f"cannot write there: {e.filename} is in the way ({(e.strerror or str(e)).lower()})",
            f"choose another output path, or move {e.filename} away",
        )
        show_error(err)
        sys.exit(err.exit_code)
    except OSError as e:
        # a full disk met where the library does not name it itself still gets its message
        from cairn.objects.newfile import NO_SPACE, disk_full

        if e.errno not in NO_SPACE:
            raise
        from cairn.cli.output import show_error

        err = disk_full(e.filename or "a file", e)
        show_error(err)
        sys.exit(err.exit_code)
    except MemoryError:
        # valid input can still be bigger than this machine; say so instead of a traceback
        from cairn.cli.output import show_error

        err = CairnError(
            "cairn ran out of memory",
            "close other programs, or work on less at once (fewer targets, a lower -j); a remote whose "
            "objects are larger than this machine can hold in memory cannot be fetched here",
        )
        show_error(err)
        sys.exit(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted: nothing half-written was kept; run the command again to finish", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
