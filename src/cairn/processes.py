"""Whether a process still runs on this host. The repo lock, the remote locks and the experiment
queue name their holders by PID and must tell a dead holder from a live one."""

from __future__ import annotations

import os


def running(pid: int | None) -> bool:
    """True while a process with this PID exists on this host and is not a zombie (exited, not
    yet reaped by its parent)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) said it exists
