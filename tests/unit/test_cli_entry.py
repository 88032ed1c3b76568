"""The CLI's entry point leaves `status` and `add` with os._exit, and only when nothing waits
for the interpreter's exit (cli/entry.py)."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_a_quick_exit_flushes_what_was_printed_and_keeps_the_code() -> None:
    proc = _run(
        "import sys\n"
        "from cairn.cli import entry\n"
        "sys.stdout.write('x' * 100)\n"  # buffered: a pipe is not a terminal
        "sys.stderr.write('to stderr')\n"
        "entry._quick_exit(3)\n"
        "print('not reached')\n"
    )
    assert proc.returncode == 3
    assert proc.stdout == "x" * 100
    assert proc.stderr == "to stderr"


def test_no_quick_exit_while_an_exit_handler_or_a_thread_waits() -> None:
    handler = _run(
        "import atexit\nfrom cairn.cli import entry\natexit.register(print, 'handler ran')\nentry._quick_exit(3)\n"
    )
    assert (handler.returncode, handler.stdout) == (0, "handler ran\n")
    thread = _run(
        "import threading, time\n"
        "from cairn.cli import entry\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start()\n"
        "entry._quick_exit(3)\n"
    )
    assert (thread.returncode, thread.stdout) == (0, "thread done\n")
    profiled = _run(
        "import cProfile\n"
        "from cairn.cli import entry\n"
        "cProfile.Profile().enable()\n"
        "entry._quick_exit(3)\n"
        "print('profile written')\n"
    )
    assert (profiled.returncode, profiled.stdout) == (0, "profile written\n")


def test_a_message_as_exit_code_takes_the_normal_exit() -> None:
    proc = _run("from cairn.cli import entry\nentry._quick_exit('a message')\nraise SystemExit('a message')\n")
    assert (proc.returncode, proc.stderr) == (1, "a message\n")
