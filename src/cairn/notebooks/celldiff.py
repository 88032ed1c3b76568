"""Cell-by-cell changes between two versions of a notebook, through nbdime's diff (which aligns
cells that moved or were edited, instead of diffing JSON lines). Outputs and execution counts
are left out: they are the run's, not the notebook's."""

from __future__ import annotations

import difflib
import json
from typing import Any

from cairn.errors import MissingDependencyError


def cell_changes(old: bytes | None, new: bytes | None) -> list[dict[str, Any]]:
    """[{cell, change: added|deleted|modified, type, diff}] with `cell` the 1-based position in
    the new version (in the old one for deleted cells) and `diff` a unified diff of the source."""
    try:
        import nbdime
    except ImportError:
        raise MissingDependencyError(
            "cell-by-cell notebook diffs need nbdime, which is not installed", "pip install 'cairn[notebooks]'"
        ) from None
    a, b = _cells(old), _cells(new)
    ops = [d for d in nbdime.diff_notebooks(_notebook(a), _notebook(b)) if d["key"] == "cells"]
    changes: list[dict[str, Any]] = []
    shift = 0  # new position = old position + cells added before it - cells removed before it
    for op in ops[0]["diff"] if ops else []:
        at = op["key"]
        if op["op"] == "addrange":
            for i, cell in enumerate(op["valuelist"]):
                changes.append(_change(at + shift + i + 1, "added", cell, None, cell))
            shift += len(op["valuelist"])
        elif op["op"] == "removerange":
            for i in range(op["length"]):
                changes.append(_change(at + i + 1, "deleted", a[at + i], a[at + i], None))
            shift -= op["length"]
        elif op["op"] == "patch":
            before = a[at]
            after = b[at + shift]
            if before["source"] != after["source"] or before["cell_type"] != after["cell_type"]:
                changes.append(_change(at + shift + 1, "modified", after, before, after))
    return changes


def _cells(data: bytes | None) -> list[dict[str, Any]]:
    if not data:
        return []
    try:
        nb = json.loads(data)
    except ValueError:
        return []
    out = []
    for cell in nb.get("cells") or []:
        source = cell.get("source", "")
        out.append(
            {
                "cell_type": cell.get("cell_type", "code"),
                "source": "".join(source) if isinstance(source, list) else source,
            }
        )
    return out


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The smallest notebook nbdime's notebook diff accepts: sources only, no outputs."""
    return {
        "cells": [
            {**c, "metadata": {}, **({"outputs": [], "execution_count": None} if c["cell_type"] == "code" else {})}
            for c in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _change(position: int, change: str, cell: dict, before: dict | None, after: dict | None) -> dict[str, Any]:
    old = (before or {}).get("source", "").splitlines()
    new = (after or {}).get("source", "").splitlines()
    diff = "\n".join(difflib.unified_diff(old, new, "before", "after", lineterm="", n=2))
    return {"cell": position, "change": change, "type": cell["cell_type"], "diff": diff}
