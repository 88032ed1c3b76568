"""Keep tracked data out of git: `/name` in the .gitignore beside it, as DVC does."""

from __future__ import annotations

import os
import re
from pathlib import Path

_GLOB = re.compile(r"([\\*?\[])")


def gitignore_entry(name: str) -> str:
    """The .gitignore line that matches exactly `name` beside it: glob characters and
    backslashes escaped (else `a[1].bin` is not ignored and `a*.bin` ignores other files), and
    trailing spaces kept (git strips them unless escaped). Line breaks cannot be expressed:
    add refuses such names."""
    escaped = _GLOB.sub(r"\\\1", name)
    bare = escaped.rstrip(" ")
    return "/" + bare + "\\ " * (len(escaped) - len(bare))


def ignore_in_git(root: Path, rel: str) -> bool:
    """Add the entry if missing; returns True when the file changed."""
    parent, _, name = rel.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    entry = gitignore_entry(name)
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
