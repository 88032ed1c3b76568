"""The `cairn` program's entry point. Imports create many long-lived objects and no garbage, so
the cyclic GC would only scan them over and over: it is off while the CLI and the command's
module load, and on again, with what they created frozen out of its sight, before the command
runs. Library users importing cairn.cli.main are not affected.

The commands in QUICK_EXIT close, commit and reap all they open (files, the stat cache, thread
pools, helper processes) before they return, so nothing is left for the interpreter's teardown
but freeing every module and object one by one: ~7 ms of a 100 ms no-op `status` (bench W2).
They leave with os._exit once stdout and stderr are flushed, unless something registered an
exit handler, another thread runs, or a profiler or tracer is attached (it writes at exit)."""

from __future__ import annotations

import gc
import os
import sys

QUICK_EXIT = frozenset({"status", "add"})
_command: str | None = None


def run() -> None:
    gc.disable()
    from cairn.cli import main as cli_main

    cli_main.on_command_loaded = _gc_back_on
    try:
        cli_main.main()
    except SystemExit as e:
        if _command in QUICK_EXIT:
            _quick_exit(e.code)
        raise
    finally:
        gc.enable()


def _gc_back_on(name: str) -> None:
    global _command
    _command = name
    gc.freeze()
    gc.enable()


def _quick_exit(code: object) -> None:
    """os._exit(code) when nothing waits for the interpreter's exit; else return."""
    import atexit
    import threading

    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        return  # a message to print: the normal exit does it
    handlers = getattr(atexit, "_ncallbacks", None)
    if handlers is None or handlers() or threading.active_count() > 1:
        return
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # a closed pipe: the normal exit reports it as before
    os._exit(code or 0)
