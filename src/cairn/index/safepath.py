"""Repo-relative paths that come from files someone else wrote (cairn.lock, a teammate's commit,
an experiment's ref): checked before cairn writes there, so no file can steer a write outside
the repository or into git's and cairn's own folders."""

from __future__ import annotations

import os
from pathlib import Path

# folders git and cairn manage themselves (compared case-insensitively: macOS and Windows
# file systems treat .GIT as .git)
_OWN = frozenset((".git", ".cairn"))


def problem(path: object, written: bool = True) -> str | None:
    """Why `path` is not a plain repo-relative path ('/'-separated, normalized, inside the
    repository); None when it is one. A path cairn writes to (`written`) must also name
    something below the root and outside .git/ and .cairn/; one it only reads may be ""
    (the root itself)."""
    if type(path) is not str or (written and not path):
        return "is not a path"
    if not path:
        return None
    if "\0" in path:
        return "holds a NUL character"
    if path.startswith(("/", "\\")) or os.path.isabs(path):
        return "is an absolute path"
    parts = path.split("/")
    if ".." in parts:
        return "points outside the repository"
    if "" in parts or "." in parts:
        return "is not a normalized path"
    if written and parts[0].lower() in _OWN:
        return f"is inside {parts[0]}/, which git or cairn manages itself"
    return None


def outside_link(root: Path, rel: str, itself: bool = True) -> str | None:
    """The first of `rel`'s folders (and `rel` itself, with `itself`) that is a symbolic link
    leading outside `root`; None when writing below `rel` stays inside the repository."""
    parts = rel.split("/")
    real_root: str | None = None
    for i in range(1, len(parts) + (1 if itself else 0)):
        prefix = "/".join(parts[:i])
        path = root / prefix
        if not path.is_symlink():
            if not path.exists():
                return None  # nothing below a missing folder can be a link yet
            continue
        real_root = real_root or os.path.realpath(root)
        target = os.path.realpath(path)
        if target != real_root and not target.startswith(real_root + os.sep):
            return prefix
    return None
