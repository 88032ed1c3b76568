"""Which symbolic links a walk of tracked data follows, and why it skips the others.

git stores a link as a link and never reads its target; DVC follows every link when it adds a
folder. cairn follows a link only when its target already belongs to the repository (or is a
cache object: `cache.type = symlink` checkouts are links), so bytes from outside the repository
never reach the cache, and from there a shared remote, unless the user asked for it with
`cairn add --follow-symlinks`. Everything skipped is reported, never dropped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Why a link was skipped (stable: `cairn add --json` prints them)
OUTSIDE = "outside"  # its target is outside the repository
DANGLING = "dangling"  # its target does not exist (or the link resolves to itself)
PRIVATE = "private"  # its target is inside .git/ or .cairn/, git's and cairn's own state
LOOP = "loop"  # a folder that holds the link itself: following it would never end

REASONS = {
    OUTSIDE: "its target is outside the repository",
    DANGLING: "its target does not exist",
    PRIVATE: "its target is inside .git/ or .cairn/",
    LOOP: "its target is a folder that holds the link (a loop)",
}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A link a walk did not follow."""

    path: str  # repo-relative path of the link
    reason: str  # one of OUTSIDE, DANGLING, PRIVATE, LOOP
    target: str  # what the link says, as os.readlink reads it

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "target": self.target}


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Where links may lead. Paths are resolved (os.path.realpath) once, when the policy is made."""

    root: str  # links resolving inside it are followed
    private: tuple[str, ...] = ()  # folders inside root that are never followed into
    cache: tuple[str, ...] = ()  # "<objects folder>/" prefixes: links there are cairn's own
    follow_all: bool = False  # also follow links that leave root (`--follow-symlinks`)

    @classmethod
    def for_repo(cls, root: str | os.PathLike[str], objects: str | os.PathLike[str], follow_all: bool = False):
        real = os.path.realpath(root)
        # cairn writes the objects folder's path as given; a user's link may spell it resolved
        cache = tuple(sorted({os.path.join(os.fspath(objects), ""), os.path.join(os.path.realpath(objects), "")}))
        return cls(real, (f"{real}/.git", f"{real}/.cairn"), cache, follow_all)

    @classmethod
    def within(cls, folder: str | os.PathLike[str]) -> LinkPolicy:
        """Follow only links that stay inside `folder` (for callers that know no repository)."""
        return cls(os.path.realpath(folder))

    def judge(self, link: str) -> tuple[str | None, str]:
        """(None, resolved target) when the link at `link` is followed, else (reason, what it says)."""
        raw = read_link(link)
        if self.is_cache_link(raw):
            return None, raw  # no need to resolve it
        reason, real = self.resolve(link)
        return reason, real if reason is None else raw

    def is_cache_link(self, raw: str) -> bool:
        """Whether a link saying `raw` is a checkout's link to a cache object (cache.type = symlink)."""
        return raw.startswith(self.cache) and "/.." not in raw

    def resolve(self, path: str) -> tuple[str | None, str]:
        """(None or the reason to skip, the resolved path) for any path that may pass through links."""
        real = os.path.realpath(path)
        if real.startswith(self.cache):
            return None, real
        if not os.path.exists(real):
            return DANGLING, real
        if _inside(real, self.private):
            return PRIVATE, real
        if self.follow_all or _inside(real, (self.root,)):
            return None, real
        return OUTSIDE, real


def read_link(link: str) -> str:
    """What a link says; "" when it is gone or no link."""
    try:
        return os.readlink(link)
    except OSError:
        return ""


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


def holds(folder: str, path: str) -> bool:
    """Whether `folder` is `path` or one of its ancestors (both resolved)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")
