"""What a source repository tracks at one commit: its pointers and the outputs its cairn.lock
records, and the data remote its committed config names. Read from git objects alone."""

from __future__ import annotations

import posixpath
import tomllib
from dataclasses import dataclass
from typing import Any

from cairn.errors import ConfigError, PathError
from cairn.index import pointer as ptr
from cairn.pipelines import lock as lock_mod
from cairn.scm.foreign import ForeignCommit


@dataclass(frozen=True)
class Tracked:
    """One version of data the source tracks: a pointer's path or a pipeline output."""

    path: str  # relative to the source repository's root
    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False
    origin: str = "pointer"  # pointer | pipeline

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "oid": self.oid,
            "size": self.size,
            "files": self.files,
            "origin": self.origin,
        }


class SourceRepo:
    def __init__(self, commit: ForeignCommit) -> None:
        self.commit = commit
        self.url = commit.url
        self._tracked: list[Tracked] | None = None

    def where(self, path: str) -> str:
        return f"{self.url}@{self.commit.commit[:12]}:{path}"

    def tracked(self) -> list[Tracked]:
        """Every tracked path, sorted: pointers, then pipeline outputs not also pointers."""
        if self._tracked is None:
            found: dict[str, Tracked] = {}
            for path, is_dir in self.commit.files():
                if is_dir or not path.endswith(ptr.SUFFIX):
                    continue
                data = self.commit.read(path)
                if data is None:
                    continue
                p = ptr.parse(data, self.where(path))
                rel = posixpath.join(posixpath.dirname(path), p.path)
                found[rel] = Tracked(rel, p.kind, p.oid, p.size, p.files, p.exec)
            lock_text = self.commit.read(lock_mod.LOCK_FILE)
            if lock_text is not None:
                for entry in lock_mod.parse(lock_text.decode(), self.where(lock_mod.LOCK_FILE)).values():
                    for o in entry.outs:
                        found.setdefault(o.path, Tracked(o.path, o.kind, o.oid, o.size, o.files, origin="pipeline"))
            self._tracked = sorted(found.values(), key=lambda t: t.path)
        return self._tracked

    def locate(self, path: str) -> tuple[Tracked, str]:
        """The tracked path holding `path` and the part of `path` inside it ("" for itself)."""
        want = posixpath.normpath(path.strip("/")) if path.strip("/") else ""
        if want.endswith(ptr.SUFFIX):
            want = want[: -len(ptr.SUFFIX)]  # the pointer file names its data
        tracked = self.tracked()
        for t in tracked:
            if want == t.path:
                return t, ""
            if want.startswith(t.path + "/") and t.kind == "tree":
                return t, want[len(t.path) + 1 :]
        shown = ", ".join(t.path for t in tracked[:20]) + (
            f" and {len(tracked) - 20} more" if len(tracked) > 20 else ""
        )
        raise PathError(
            f"{self.url} does not track {path!r} with cairn at {self.commit.commit[:12]}"
            + (f"; it tracks: {shown}" if tracked else "; it tracks no data at all"),
            f"list what it tracks with `cairn ls {self.url}`",
        )

    # -- the data remote ----------------------------------------------------------------------
    def remotes(self) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """(default remote name, {name: settings}) from the committed .cairn/config.toml."""
        raw = self.commit.read(".cairn/config.toml")
        if raw is None:
            return None, {}
        try:
            doc = tomllib.loads(raw.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"{self.where('.cairn/config.toml')} is not valid TOML ({e})", "fix it in the source repository"
            ) from None
        remotes = doc.get("remote") if isinstance(doc.get("remote"), dict) else {}
        named = {str(k): dict(v) for k, v in remotes.items() if isinstance(v, dict)}
        core = doc.get("core") if isinstance(doc.get("core"), dict) else {}
        default = core.get("remote") if isinstance(core.get("remote"), str) else None
        return default, named

    def data_remote(self, name: str | None = None) -> tuple[str, dict[str, Any]]:
        """(name, settings) of the remote to read the data from: `name`, else the source's
        default, else its only remote."""
        default, named = self.remotes()
        pick = name or default or (next(iter(named)) if len(named) == 1 else None)
        if pick is None or pick not in named:
            known = ", ".join(sorted(named)) or "none"
            raise ConfigError(
                f"{self.url} names no data remote to read from"
                + (f" (no remote {pick!r}; its remotes: {known})" if pick else f" (its remotes: {known})"),
                "its maintainers set one with `cairn remote add -d NAME URL` and commit .cairn/config.toml"
                if not named
                else "choose one with --remote NAME",
            )
        settings = named[pick]
        if not isinstance(settings.get("url"), str):
            raise ConfigError(f"remote {pick!r} of {self.url} has no url", "fix it in the source repository")
        return pick, settings
