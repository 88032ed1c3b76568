"""The git clean filter: what git stores of a notebook is its cells' sources, never outputs,
execution counts or the metadata every run rewrites. The workspace copy keeps its outputs.

Plain json, no nbformat: git starts this once per notebook it compares, so it must start fast.
The text is written the way nbformat writes it (indent 1, sorted keys, UTF-8, final newline), so a
notebook saved by Jupyter and the stored copy differ only by what is stripped."""

from __future__ import annotations

import json
from typing import Any

# cell metadata written by a run or by the UI (timings, scroll and collapse state)
VOLATILE_CELL = ("execution", "ExecuteTime", "collapsed", "scrolled", "papermill", "heading_collapsed", "hidden")
# notebook metadata written by a run (papermill's parameters, widget state) or a signature
VOLATILE_NOTEBOOK = ("papermill", "widgets", "signature")


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """`nb` without outputs, execution counts and volatile metadata (modified in place)."""
    meta = nb.get("metadata")
    if isinstance(meta, dict):
        for key in VOLATILE_NOTEBOOK:
            meta.pop(key, None)
    for cell in nb.get("cells") or []:
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cmeta = cell.get("metadata")
        if isinstance(cmeta, dict):
            for key in VOLATILE_CELL:
                cmeta.pop(key, None)
    return nb


def clean_bytes(data: bytes) -> bytes:
    """The filter itself: a notebook's bytes in, its stored form out. What is not a notebook
    (a half-saved file, a conflict-marked merge) passes through unchanged: a clean filter that
    fails would make git store nothing at all."""
    try:
        nb = json.loads(data)
    except ValueError:
        return data
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return data
    text = json.dumps(strip(nb), sort_keys=True, indent=1, ensure_ascii=False)
    return (text + "\n").encode()
