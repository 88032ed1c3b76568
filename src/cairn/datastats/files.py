"""Statistics of a folder of files that are not tables (images, audio, documents): how many,
how big, which extensions. Computed from the folder's tree alone, so no file is read."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


def file_stats(entries: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """entries: (relative path, size) of every file."""
    sizes: list[int] = []
    exts: dict[str, list[int]] = {}
    for rel, size in entries:
        sizes.append(size)
        ext = os.path.splitext(rel.rpartition("/")[2])[1].lower() or "(none)"
        e = exts.setdefault(ext, [0, 0])
        e[0] += 1
        e[1] += size
    sizes.sort()
    n = len(sizes)
    out: dict[str, Any] = {"files": n, "bytes": sum(sizes)}
    if n:
        out["sizes"] = {
            "min": sizes[0],
            "max": sizes[-1],
            "mean": sum(sizes) / n,
            "quantiles": {str(q): sizes[min(n - 1, round(q / 100 * (n - 1)))] for q in (1, 5, 25, 50, 75, 95, 99)},
        }
    ranked = sorted(exts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    out["extensions"] = [{"extension": ext, "files": c, "bytes": b} for ext, (c, b) in ranked]
    return out
