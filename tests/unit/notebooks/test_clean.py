"""The clean filter git runs on every notebook, and the cell-by-cell diff (no kernel involved)."""

from __future__ import annotations

import json

from cairn.notebooks.celldiff import cell_changes
from cairn.notebooks.clean import clean_bytes


def _nb(*sources: str, ran: bool = False) -> dict:
    cells = []
    for i, src in enumerate(sources):
        cell = {"cell_type": "code", "id": f"c{i}", "metadata": {"tags": ["x"]}, "source": src}
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}] if ran else []
        cell["execution_count"] = i + 1 if ran else None
        if ran:
            cell["metadata"].update(execution={"t": 1}, ExecuteTime={"t": 2}, collapsed=True, scrolled=False)
        cells.append(cell)
    meta = {"kernelspec": {"name": "python3"}, **({"papermill": {"duration": 1.5}, "widgets": {}} if ran else {})}
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


def _bytes(nb: dict) -> bytes:
    return (json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def test_clean_strips_what_a_run_writes_and_keeps_the_rest():
    ran, fresh = _bytes(_nb("a = 1", "print('é')", ran=True)), _bytes(_nb("a = 1", "print('é')"))
    assert clean_bytes(ran) == fresh  # exactly the notebook as saved before running
    assert clean_bytes(fresh) == fresh  # idempotent: git may clean twice


def test_clean_passes_what_is_not_a_notebook_through():
    for data in (b"{not json", b"[1, 2]", b'{"cells": 3}', b""):
        assert clean_bytes(data) == data


def test_cell_changes_align_cells_and_ignore_outputs():
    old = _bytes(_nb("import math\nx = math.sqrt(4)\nprint(x)", "print('end')"))
    new = _bytes(_nb("import math\nx = math.sqrt(9)\nprint(x)", "y = 2", "print('end')", ran=True))
    changes = cell_changes(old, new)
    assert [(c["cell"], c["change"]) for c in changes] == [(1, "modified"), (2, "added")]
    assert "-x = math.sqrt(4)\n+x = math.sqrt(9)" in changes[0]["diff"]
    assert cell_changes(old, _bytes(_nb("import math\nx = math.sqrt(4)\nprint(x)", "print('end')", ran=True))) == []
    assert [(c["cell"], c["change"]) for c in cell_changes(new, None)] == [
        (1, "deleted"),
        (2, "deleted"),
        (3, "deleted"),
    ]
