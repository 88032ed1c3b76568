"""Semantic versions (semver.org 2.0.0), as registry tags spell them: `v1.2.3`, with optional
pre-release and build parts. Ordered by the spec's precedence rules; build metadata is ignored
when comparing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from cairn.errors import RegistryError

# the pattern GTO uses (gto/constants.py), so every version it wrote reads here
_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
PATTERN = (
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<prerelease>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_FULL = re.compile(f"^v?{PATTERN}$")
BUMPS = ("major", "minor", "patch")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        text += f"-{self.prerelease}" if self.prerelease else ""
        return text + (f"+{self.build}" if self.build else "")

    def _key(self) -> tuple:
        # a release ranks above its pre-releases; numeric identifiers rank below alphanumeric ones
        if not self.prerelease:
            pre: tuple = (1,)
        else:
            pre = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split(".")))
        return (self.major, self.minor, self.patch, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)


FIRST = Version(0, 0, 1)  # what GTO registers first when no version is given


def is_version(text: str) -> bool:
    return bool(_FULL.match(text))


def parse(text: str) -> Version:
    """`v1.2.3` or `1.2.3` (the `v` is optional on the command line; tags always carry it)."""
    m = _FULL.match(text)
    if not m:
        raise RegistryError(
            f"{text!r} is not a semantic version",
            "write it as MAJOR.MINOR.PATCH, e.g. 1.0.0 or v1.2.3-rc.1 (see semver.org)",
        )
    return Version(int(m["major"]), int(m["minor"]), int(m["patch"]), m["prerelease"] or "", m["buildmetadata"] or "")
