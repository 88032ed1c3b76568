"""Small JSON records kept by key in fan-out folders (`<root>/<2 hex>/<rest>.json`), each
written whole (temp file + rename): the run-cache and the data statistics records use it."""

from __future__ import annotations

import os
from pathlib import Path


class RecordDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key[2:]}.json"

    def put_raw(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def keys(self) -> list[str]:
        """Every key with a record (temp files of unfinished writes left out), unordered."""
        if not self.root.is_dir():
            return []
        return [
            d.name + f.name[: -len(".json")]
            for d in self.root.iterdir()
            if d.is_dir()
            for f in d.iterdir()
            if f.name.endswith(".json") and not f.name.startswith(".")
        ]
