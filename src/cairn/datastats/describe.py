"""The stats record body of one data version: a table (a tabular file, or a folder of them read
as one table) or a folder of other files (counted from its tree, no file read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.datastats.columns import table_stats
from cairn.datastats.files import file_stats
from cairn.datastats.read import Source, format_of, need_format, read_tables
from cairn.errors import ObjectMissingError
from cairn.progress import NULL, Progress


@dataclass(frozen=True)
class FileRef:
    rel: str  # inside the folder; a single file's own name (its extension tells the format)
    path: str | None  # where its bytes are, None when they are not on this machine
    size: int
    oid: str = ""


def is_table(name: str, kind: str, files: list[FileRef]) -> bool:
    if kind == "file":
        return True
    named = [f for f in files if not f.rel.rpartition("/")[2].startswith(".")]
    return bool(named) and all(format_of(f.rel) for f in named)


def describe(
    name: str, kind: str, files: list[FileRef], progress: Progress = NULL, own_names: bool = False
) -> tuple[str, dict[str, Any]]:
    """(record kind, body). `name` is what messages call the data (`data/x.csv at v1`); a folder's
    files are called `name/rel`, or just `rel` with `own_names` (a monitor's batch files, whose
    rel is the path the user gave)."""
    if not is_table(name, kind, files):
        return "files", file_stats((f.rel, f.size) for f in files)
    named = [f for f in files if kind == "file" or not f.rel.rpartition("/")[2].startswith(".")]
    formats = [need_format(f.rel if f.rel else name) for f in named]  # known without the bytes: said first
    missing = [f.oid for f in named if f.path is None]
    if missing:
        raise ObjectMissingError(
            f"the data of {name} is not on this machine and no remote holds its stats",
            "get it with `cairn pull` (or `cairn fetch`) at that revision, or compute its stats where the data is "
            "and `cairn push` them",
            missing,
        )
    sources = []
    for f, fmt in zip(named, formats, strict=True):
        label = name if kind == "file" else f.rel if own_names else f"{name}/{f.rel}"
        sources.append(Source(label, f.path or "", fmt))
    task = progress.task(f"statistics of {name}", total=len(sources))
    try:
        df = read_tables(sources)
        body = table_stats(df)
        task.advance(len(sources))
    finally:
        task.close()
    fmts = sorted({s.fmt for s in sources})
    body.update(format=fmts[0] if len(fmts) == 1 else "mixed", files=len(sources), bytes=sum(f.size for f in named))
    return "table", body
