"""Fixtures of the notebook suite: notebooks written as Jupyter saves them (nbformat 4.5 JSON,
written here without cairn's code), and ANSI colour codes stripped from driver output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebook_doc(cells: list, params: str | None = None, kernel: str = "python3", outputs: bool = False) -> dict:
    """A notebook: `params` becomes the cell tagged `parameters` (first code cell); a cell is
    code source, or ("markdown", text). With `outputs`, code cells carry an output and an
    execution count, as a notebook saved after running does."""
    items = ([("code", params, ["parameters"])] if params is not None else []) + [
        (c[0], c[1], []) if isinstance(c, tuple) else ("code", c, []) for c in cells
    ]
    out = []
    for i, (kind, source, tags) in enumerate(items):
        cell = {"cell_type": kind, "id": f"c{i}", "metadata": {"tags": tags} if tags else {}, "source": source}
        if kind == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"out {i}\n"}] if outputs else []
            cell["execution_count"] = i + 1 if outputs else None
            if outputs:
                cell["metadata"]["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
        out.append(cell)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(path: Path, cells: list, params: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_doc(cells, params, **kwargs), indent=1, sort_keys=True) + "\n")
    return path


@pytest.fixture(scope="session")
def notebook():
    """notebook(path, cells, params=None, kernel="python3", outputs=False) writes a notebook."""
    return write_notebook


@pytest.fixture(scope="session")
def plain():
    """plain(text): text without ANSI colour codes."""
    return lambda text: ANSI.sub("", text)
