"""The `cairn` program's entry point. Imports create many long-lived objects and no garbage, so
the cyclic GC would only scan them over and over: it is off while the CLI and the command's
module load, and on again, with what they created frozen out of its sight, before the command
runs. Library users importing cairn.cli.main are not affected."""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    from cairn.cli import main as cli_main

    cli_main.on_command_loaded = _gc_back_on
    try:
        cli_main.main()
    finally:
        gc.enable()


def _gc_back_on() -> None:
    gc.freeze()
    gc.enable()
