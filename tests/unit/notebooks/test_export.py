"""The offline HTML export of an executed notebook."""

from __future__ import annotations

import nbformat
import pytest

from cairn.errors import MissingDependencyError
from cairn.notebooks.export import to_html


def _notebook() -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    return nbformat.writes(nb).encode()


def test_html_holds_the_cells_and_loads_nothing_from_a_cdn() -> None:
    html = to_html(_notebook(), "analysis")
    assert "print" in html and "<title>analysis</title>" in html
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html


def test_missing_templates_are_a_missing_dependency_not_a_traceback(monkeypatch, tmp_path) -> None:
    """An environment whose share/jupyter lacks nbconvert's templates (a venv borrowing another's
    site-packages, a broken install): nbconvert raises a bare ValueError."""
    from nbconvert.exporters.templateexporter import TemplateExporter

    monkeypatch.setattr(TemplateExporter, "get_prefix_root_dirs", lambda self: [str(tmp_path)])
    with pytest.raises(MissingDependencyError) as e:
        to_html(_notebook(), "analysis")
    assert "nbconvert's 'lab' template, which is not installed" in e.value.message
    assert "pip install --force-reinstall nbconvert" in e.value.hint
