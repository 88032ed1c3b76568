"""Checks on the helper processes the split walk and the split add fork."""

from __future__ import annotations

import os


def reaped(pids: list[int]) -> bool:
    """Every helper has ended and been waited for (no zombie, nothing left running)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)
