"""Which modules a cairn process imported, from the report `PYTHONPROFILEIMPORTTIME=1` (the
env form of -X importtime) writes to its stderr."""

from __future__ import annotations

import subprocess

PROFILE_IMPORTS = {"PYTHONPROFILEIMPORTTIME": "1"}


def imported(proc: subprocess.CompletedProcess) -> set[str]:
    """Top-level modules the process imported."""
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names
