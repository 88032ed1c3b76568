"""Without the stats extra, the commands say how to get it."""

from __future__ import annotations

import sys

import pytest

from cairn.datastats.engine import polars
from cairn.errors import MissingDependencyError


def test_missing_polars_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars now raises ImportError
    with pytest.raises(MissingDependencyError) as e:
        polars()
    assert e.value.message == "data statistics need polars, which is not installed"
    assert e.value.hint == "install the stats extra: pip install 'cairn[stats]'"


def test_importing_the_cli_module_does_not_import_polars() -> None:
    import subprocess

    code = "import sys, cairn.cli.datastats, cairn.repo.datastats; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
