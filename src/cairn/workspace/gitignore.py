"""Keep tracked data out of git: `/name` in the .gitignore beside it, as DVC does."""

from __future__ import annotations

import os
from pathlib import Path


def ignore_in_git(root: Path, rel: str) -> bool:
    """Add the entry if missing; returns True when the file changed."""
    parent, _, name = rel.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    entry = "/" + name
    try:
        text = gi.read_text()
    except FileNotFoundError:
        text = ""
    if entry in text.splitlines():
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    tmp = gi.with_name(f".gitignore.{os.getpid()}.tmp")
    tmp.write_text(text + entry + "\n")
    os.replace(tmp, gi)
    return True
