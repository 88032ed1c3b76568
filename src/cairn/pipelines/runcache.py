"""The run-cache: (command, dependency ids, param values) -> output ids, for every successful
run. When a stage's inputs match an earlier run, its outputs are restored from the cache
instead of running it. Entries live in `<cache>/runs/<2 hex>/<rest>.json`, written once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from blake3 import blake3

from cairn.objects.hashing import is_oid
from cairn.objects.records import RecordDir
from cairn.pipelines.lock import PathState

RUN_VERSION = 1


def key(cmd: list[str], deps: list[PathState], params: dict[str, dict[str, Any]]) -> str:
    doc = {
        "cmd": cmd,
        "deps": sorted([d.path, d.oid] for d in deps),
        "params": {f: dict(sorted(v.items())) for f, v in sorted(params.items())},
    }
    return blake3(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class RunCache(RecordDir):
    def __init__(self, cache_root: Path) -> None:
        super().__init__(cache_root / "runs")

    def get(self, k: str) -> list[PathState] | None:
        try:
            doc = json.loads(self.path(k).read_text())
            if doc.get("version") != RUN_VERSION:
                return None
            return [PathState(o["path"], o["kind"], o["oid"], int(o["size"]), int(o["files"])) for o in doc["outs"]]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def env_of(self, k: str) -> str | None:
        """The environment record of the run entry `k` recorded (entries from before have none)."""
        try:
            env = json.loads(self.path(k).read_text()).get("env")
        except (FileNotFoundError, ValueError, AttributeError):
            return None
        return env if is_oid(env) else None

    def roots(self, k: str) -> list[tuple[str, str]]:
        """(kind, oid) of what entry `k` needs: its outputs and its environment record."""
        env = self.env_of(k)
        return [(o.kind, o.oid) for o in self.get(k) or []] + ([("file", env)] if env else [])

    def put(self, k: str, outs: list[PathState], env: str | None = None) -> None:
        doc: dict[str, Any] = {"outs": [o.to_dict() for o in outs], "version": RUN_VERSION}
        if env:  # the environment the outputs were made in, for the lock entry of a restore
            doc["env"] = env
        self.put_raw(k, json.dumps(doc).encode())

    def list_keys(self) -> list[str]:
        return sorted(self.keys())
