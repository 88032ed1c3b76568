"""The columnar engine (polars, the `stats` extra), imported only by the commands that need it so
every other command starts as fast as before. polars was chosen over pyarrow by measurement
(docs/datastats.md)."""

from __future__ import annotations

from types import ModuleType

from cairn.errors import MissingDependencyError

INSTALL = "pip install 'cairn[stats]'"


def polars() -> ModuleType:
    try:
        import polars as pl
    except ImportError:
        raise MissingDependencyError(
            "data statistics need polars, which is not installed",
            f"install the stats extra: {INSTALL}",
        ) from None
    return pl
