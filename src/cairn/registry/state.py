"""The registry's state, computed from its tags alone (no other storage): which versions each
artifact has, which version each stage points to, and every event in time order.

A stage points to the version most recently assigned to it whose assignment was not undone
since (GTO's default ordering by time), so a rollback is assigning an older version again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.errors import RegistryError
from cairn.registry import semver, tagnames
from cairn.registry.tagnames import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, TagName


@dataclass(frozen=True)
class Event:
    """One registry tag: what it says, on which commit, by whom, when and why."""

    tag: str
    name: TagName
    commit: str
    author: str
    author_email: str
    time: int  # tagger time, seconds since the epoch
    message: str
    version: str | None = None  # for stage events: the version the commit holds

    @property
    def order(self) -> tuple[int, int]:
        # tags made within one second are ordered by their counter
        return (self.time, self.name.counter or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.name.action,
            "artifact": self.name.artifact,
            "version": self.version or self.name.version,
            "stage": self.name.stage,
            "commit": self.commit,
            "author": self.author,
            "author_email": self.author_email,
            "created_at": self.time,
            "message": self.message,
            "tag": self.tag,
        }


@dataclass
class VersionState:
    version: str
    commit: str
    registered: Event | None = None
    deregistered: bool = False
    stages: list[str] = field(default_factory=list)  # stages pointing to this version now

    @property
    def active(self) -> bool:
        return not self.deregistered

    def to_dict(self) -> dict[str, Any]:
        reg = self.registered
        return {
            "version": self.version,
            "commit": self.commit,
            "registered": reg is not None,
            "active": self.active,
            "author": reg.author if reg else None,
            "author_email": reg.author_email if reg else None,
            "created_at": reg.time if reg else None,
            "message": reg.message if reg else None,
            "stages": self.stages,
        }


@dataclass
class ArtifactState:
    name: str
    versions: dict[str, VersionState] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)  # stage -> version
    events: list[Event] = field(default_factory=list)  # oldest first
    deprecated: bool = False

    def registered(self) -> list[VersionState]:
        """Registered, active versions, highest first."""
        found = [v for v in self.versions.values() if v.registered and v.active]
        return sorted(found, key=lambda v: semver.parse(v.version), reverse=True)

    def latest(self) -> VersionState | None:
        found = self.registered()
        return found[0] if found else None

    def by_commit(self, commit: str) -> VersionState | None:
        return next((v for v in self.versions.values() if v.commit == commit and v.active), None)

    def version(self, text: str) -> VersionState:
        wanted = str(semver.parse(text)) if semver.is_version(text) else text
        v = self.versions.get(wanted)
        if v is None or not v.active:
            known = ", ".join(x.version for x in self.registered()) or "none"
            raise RegistryError(f"artifact {self.name!r} has no version {text!r}", f"registered versions: {known}")
        return v

    def at_stage(self, stage: str) -> VersionState:
        version = self.stages.get(stage)
        if version is None:
            known = ", ".join(f"{s} ({v})" for s, v in sorted(self.stages.items())) or "none"
            raise RegistryError(
                f"no version of {self.name!r} is in stage {stage!r}",
                f"assign one with `cairn model assign {self.name}@VERSION --stage {stage}`; stages now: {known}",
            )
        return self.versions[version]

    def summary(self) -> dict[str, Any]:
        latest = self.latest()
        return {
            "name": self.name,
            "latest": latest.version if latest else None,
            "stages": dict(sorted(self.stages.items())),
            "versions": len(self.registered()),
            "deprecated": self.deprecated,
        }


def build(events: list[Event]) -> dict[str, ArtifactState]:
    """Artifacts by name from registry tags in any order."""
    out: dict[str, ArtifactState] = {}
    for e in sorted(events, key=lambda e: e.order):
        art = out.setdefault(e.name.artifact, ArtifactState(e.name.artifact))
        action = e.name.action
        if action == DEPRECATE:
            art.deprecated = True
        elif action in (REGISTER, DEREGISTER):
            assert e.name.version is not None
            v = art.versions.get(e.name.version)
            if v is None:
                v = art.versions[e.name.version] = VersionState(e.name.version, e.commit)
            if action == REGISTER:
                v.registered, v.deregistered = e, False
            else:
                v.deregistered = True
        else:
            # a stage names a commit; the version is whatever is registered there (GTO names an
            # unregistered one by its commit)
            v = art.by_commit(e.commit)
            if v is None:
                v = art.versions[e.commit] = VersionState(e.commit, e.commit)
            e = Event(e.tag, e.name, e.commit, e.author, e.author_email, e.time, e.message, v.version)
        if action != DEPRECATE and art.deprecated and action in (REGISTER, ASSIGN):
            art.deprecated = False  # a new registration or assignment brings it back, as in GTO
        art.events.append(e)
    for art in out.values():
        _stages(art)
    return out


def _stages(art: ArtifactState) -> None:
    last: dict[tuple[str, str], Event] = {}  # (version, stage) -> its latest event
    for e in art.events:
        if e.name.action in (ASSIGN, UNASSIGN) and e.version is not None:
            last[(e.version, e.name.stage or "")] = e
    best: dict[str, Event] = {}
    for (version, stage), e in last.items():
        v = art.versions.get(version)
        if e.name.action != ASSIGN or v is None or not v.active:
            continue
        if stage not in best or e.order > best[stage].order:
            best[stage] = e
    art.stages = {stage: e.version for stage, e in best.items() if e.version}
    for stage, version in art.stages.items():
        art.versions[version].stages.append(stage)
    for v in art.versions.values():
        v.stages.sort()


def next_counter(events: list[Event], name: str) -> int:
    """The counter the next tag of `name` carries (GTO: the highest so far + 1)."""
    return max((e.name.counter or 0 for e in events if e.name.artifact == name), default=0) + 1


def find(artifacts: dict[str, ArtifactState], name: str) -> ArtifactState:
    tagnames.check_name(name)
    art = artifacts.get(name)
    if art is None:
        known = ", ".join(sorted(artifacts)) or "none yet"
        raise RegistryError(
            f"artifact {name!r} has no versions in the registry",
            f"register one with `cairn model register {name}`; registered artifacts: {known}",
        )
    return art
