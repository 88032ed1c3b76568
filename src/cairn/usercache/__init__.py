"""The per-user cache: what cairn keeps for this user outside any repository, under
$XDG_CACHE_HOME/cairn (else ~/.cache/cairn). Not a repository's data (that is .cairn/cache,
which `cairn gc` cleans): only things that are rebuilt on the next read when deleted.

Kinds, one folder each:
- repos: one bare partial clone per source repository (`ls/get/import/update`, `--repo` reads);
- remotes: one SQLite index per source's data remote (what it holds);
- environment: the machine part of environment records, one small file per interpreter state;
- cluster: on a cluster node, one folder per project its experiments ran for (git mirror,
  objects, run folders; cluster/task.py), or in $CAIRN_CLUSTER_CACHE.

An entry of repos, remotes or cluster is held (a shared flock on its `NAME.used` stamp, whose mtime is
its last use) while a process reads it; pruning takes that lock exclusively, so it never removes
an entry in use, and renames the entry aside before deleting it, so a half-deleted entry never
reads as valid. Entries unused for longer than the default age are pruned whenever a new source
repository is cloned, so the cache does not grow forever for a user who never prunes it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cairn.errors import ConfigError, UserInputError

KINDS = ("repos", "remotes", "environment", "cluster")
CLUSTER_ENV = "CAIRN_CLUSTER_CACHE"  # cluster/task.py's node caches, when not under root()
DEFAULT_MAX_AGE = 30 * 86400.0  # s; docs/decisions.md: why 30 days
AGE_ENV = "CAIRN_USER_CACHE_MAX_AGE"  # a duration, or "never": no pruning when cloning
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def root() -> Path:
    """The per-user cache folder: $XDG_CACHE_HOME/cairn, else ~/.cache/cairn."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder to find
            raise ConfigError(
                "there is no home folder, so no per-user cache folder",
                "set XDG_CACHE_HOME to a folder cairn may keep its per-user cache in",
            ) from None
    return Path(base) / "cairn"


def folder(kind: str) -> Path:
    """The folder of one kind of entry (see KINDS)."""
    if kind == "cluster" and os.environ.get(CLUSTER_ENV):
        return Path(os.environ[CLUSTER_ENV])
    return root() / kind


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 30d, 12h, 90m, 45s, 2w (0 alone: no age at all)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if m is None or (not m.group(2) and float(m.group(1)) != 0):
        raise UserInputError(
            f"{text!r} is not a duration",
            "give a number and a unit: 30d (days), 12h, 90m, 45s, 2w (weeks), or 0",
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def auto_max_age() -> float | None:
    """The age after which entries go when a new source repository is cloned: $CAIRN_USER_CACHE_MAX_AGE
    (a duration, or `never`), else DEFAULT_MAX_AGE; None: never."""
    value = os.environ.get(AGE_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_AGE
    if value.lower() in ("never", "off", "none"):
        return None
    try:
        return parse_duration(value)
    except UserInputError as e:
        raise ConfigError(
            f"${AGE_ENV} is {value!r}, which is not a duration",
            "set it to a duration such as 30d, 12h or 2w, or to `never` to turn automatic pruning off",
        ) from e
