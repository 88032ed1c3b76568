"""Environment records wired to a repository: captured with the variables config `env.vars`
names, stored in the cache (so push, pull and gc carry them as they do outputs), compared with
what each stage of cairn.lock was recorded with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cairn.environment import compare
from cairn.environment.capture import capture
from cairn.environment.record import decode, encode
from cairn.errors import DataError

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

CACHE_FILE = "environment.json"  # under .cairn/state: the machine part, see environment/capture.py


class RepoEnvironment:
    """The runner's EnvHook (pipelines/runner.py) for one repository."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._current: dict[str, Any] | None = None

    def current(self) -> dict[str, Any]:
        if self._current is None:
            names = self.repo.config.get("env.vars") or []
            if isinstance(names, str):  # written by hand as "SEED, CUDA_VISIBLE_DEVICES"
                names = [n.strip() for n in names.split(",") if n.strip()]
            self._current = capture(names, self.repo.dot / "state" / CACHE_FILE)
        return self._current

    def record(self) -> str | None:
        return self.repo.store.add_bytes(encode(self.current()))

    def load(self, oid: str) -> dict[str, Any]:
        """The record `oid` from the cache (ObjectMissingError when it is not there)."""
        return decode(self.repo.store.read(oid), oid)

    def changes(self, oid: str) -> list[str] | None:
        """What differs from the record `oid` to the current environment; None when the record
        is not in the cache or not readable."""
        try:
            return [str(c) for c in compare.changes(self.load(oid), self.current())]
        except DataError:
            return None

    def stage_changes(self) -> dict[str, list[str]]:
        """stage -> what differs in the current environment from the one its run recorded
        (stages whose record differs; a record not in the cache is named as such)."""
        from cairn.pipelines import lock as lock_mod

        out: dict[str, list[str]] = {}
        for name, entry in lock_mod.read(self.repo.root).items():
            if not entry.env:
                continue
            changed = self.changes(entry.env)
            if changed is None:
                where = "not readable" if self.repo.store.exists(entry.env) else "not in the cache (`cairn pull`)"
                out[name] = [f"its environment record {entry.env[:12]} is {where}"]
            elif changed:
                out[name] = changed
        return out
