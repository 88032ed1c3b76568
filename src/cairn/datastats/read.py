"""Reading CSV/TSV, Parquet and JSON Lines into one polars DataFrame, with errors a user can act
on: the file and line of an unparseable row, an empty file, a file that is not a table."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from typing import Any

from cairn.datastats.engine import polars
from cairn.errors import DataStatsError

# extension -> format; anything else is not read as a table
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# rows polars looks at to guess a CSV column's type; a column with a later row that does not
# fit is read again as text (and reported as mixed)
INFER_ROWS = 10_000
KNOWN = "CSV/TSV (.csv, .tsv), Parquet (.parquet) and JSON Lines (.jsonl, .ndjson)"


@dataclass(frozen=True)
class Source:
    name: str  # what messages call it (a repo path, `data/x.csv` or `data/x.csv at v1`)
    path: str  # where the bytes are (the workspace file, or its cache object)
    fmt: str


def format_of(name: str) -> str | None:
    return FORMATS.get(os.path.splitext(name)[1].lower())


def need_format(name: str) -> str:
    fmt = format_of(name)
    if fmt is None:
        raise DataStatsError(
            f"{name} is not a table: cairn reads {KNOWN}",
            "give a file with one of those extensions, or a folder (its files are then counted by extension)",
        )
    return fmt


def read_tables(sources: list[Source]) -> Any:
    """One DataFrame of every source's rows (columns a file lacks are null there)."""
    pl = polars()
    frames = [read_table(s) for s in sources]
    if len(frames) == 1:
        return frames[0]
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as e:
        raise DataStatsError(
            f"the files of the folder do not fit in one table: {_first_line(e)}",
            "give the files one schema (same column names and types), or compute stats of each file",
        ) from None


def read_table(src: Source) -> Any:
    pl = polars()
    size = os.path.getsize(src.path)
    if size == 0:
        raise DataStatsError(f"{src.name} is empty (0 bytes): there is no table to describe", "check what wrote it")
    if src.fmt in ("csv", "tsv", "jsonl"):
        _need_text(src)
    try:
        if src.fmt == "parquet":
            return pl.read_parquet(src.path)
        if src.fmt == "jsonl":
            return pl.read_ndjson(src.path, infer_schema_length=None)
        return _read_csv(pl, src)
    except pl.exceptions.NoDataError:
        raise DataStatsError(f"{src.name} holds no header and no rows", "check how it was written") from None
    except pl.exceptions.PolarsError as e:
        raise _unreadable(src, e) from None
    except OSError as e:  # polars reports a malformed Parquet footer as an OSError
        raise _unreadable(src, e) from None


def _read_csv(pl: Any, src: Source) -> Any:
    """A column whose later rows do not fit the type guessed from the first ones is read as text
    (and reported as mixed); the other columns keep their types."""
    sep = "\t" if src.fmt == "tsv" else ","
    overrides: dict[str, Any] = {}
    while True:
        try:
            return pl.read_csv(src.path, separator=sep, infer_schema_length=INFER_ROWS, schema_overrides=overrides)
        except pl.exceptions.ComputeError as e:
            m = re.search(r"could not parse .* at column '(.+?)' \(column number", str(e))
            if m is None or m.group(1) in overrides:
                raise
            overrides[m.group(1)] = pl.String


def _need_text(src: Source) -> None:
    with open(src.path, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        raise DataStatsError(
            f"{src.name} is not a {src.fmt.upper()} file: it holds binary data",
            f"cairn reads {KNOWN}; rename the file if its extension is wrong",
        )


def _unreadable(src: Source, e: BaseException) -> DataStatsError:
    where = _bad_line(src) if src.fmt in ("csv", "tsv") else None
    if where is not None:
        return DataStatsError(f"{src.name} line {where[0]}: {where[1]}", "fix that line (or quote the field)")
    what = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "jsonl": "JSON Lines"}[src.fmt]
    return DataStatsError(f"{src.name} cannot be read as {what}: {_first_line(e)}", f"cairn reads {KNOWN}")


def _bad_line(src: Source) -> tuple[int, str] | None:
    """The first line the csv module finds wrong (a row of another width, an open quote): the
    fast reader does not say where; this slow pass runs only once reading has failed."""
    sep = "\t" if src.fmt == "tsv" else ","
    bad: list[int] = []

    def lines(f):
        for n, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(n)
                return

    with open(src.path, "rb") as f:
        reader = csv.reader(lines(f), delimiter=sep, strict=True)
        width = None
        try:
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    return reader.line_num, f"{len(row)} fields where the header has {width}"
        except csv.Error as e:
            return reader.line_num, str(e)
    if bad:
        return bad[0], "not UTF-8 text"
    return None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
