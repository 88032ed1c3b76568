"""Files written for the walk's tests, dated out of the racy window (a file modified within the
last moments is never trusted to its stat record, so tests of seals use older ones)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def age(path: Path) -> None:
    past = time.time() - 60  # older than the racy window
    os.utime(path, (past, past))


def write_aged(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    age(path)
