"""What git's index (the staging area) holds, asked of the git CLI: one short process (~1 ms)
instead of importing pygit2 (~30 ms), which a re-add of unchanged data would spend most of its
time on. Falls back to pygit2 when the git CLI is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tracked_under(root: Path, rel: str) -> list[str]:
    """Paths git tracks at `rel` or below it (repo-relative, '/'-separated)."""
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotePath=false", "ls-files", "-z", "--cached", "--", f":(literal){rel}"],
            cwd=root,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        proc = None
    if proc is None or proc.returncode != 0:
        from cairn.scm.git import Git

        return Git(root).tracked_under(rel)
    prefix = rel + "/"
    paths = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [p for p in paths if p == rel or p.startswith(prefix)]
