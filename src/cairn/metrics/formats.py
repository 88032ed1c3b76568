"""Metrics, params and plot data files: json, yaml, toml, csv and tsv.

Syntax errors name the file, the revision and the line (and column where the parser knows it).
Metrics flatten to dotted keys (`{"train": {"loss": 1}}` -> `train.loss`, lists by index);
a csv/tsv metrics file is its last row."""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
import tomllib
from typing import Any

import yaml

from cairn.errors import PipelineError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DATA_SUFFIXES = {".json", ".yaml", ".yml", ".toml", ".csv", ".tsv"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
IMAGE_TYPES[".svg"] = "image/svg+xml"
WORKSPACE_WHERE = "in the workspace"
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def suffix(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def is_image(path: str) -> bool:
    return suffix(path) in IMAGE_TYPES


def syntax_error(path: str, where: str, what: str, detail: str, line: int | None, col: int | None) -> PipelineError:
    at = path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
    return PipelineError(
        f"{at} ({where}): invalid {what}: {detail}",
        "fix the syntax there"
        if where == WORKSPACE_WHERE
        else "that commit holds a broken file: leave the revision out, or fix the file in a new commit",
    )


def _text(data: bytes, path: str, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PipelineError(
            f"{path} ({where}) is not UTF-8 text (byte {e.start})", "metrics and params files are text files"
        ) from None


def parse_document(data: bytes, path: str, where: str) -> Any:
    """json / yaml / toml content as nested data (yaml for any other suffix)."""
    text = _text(data, path, where)
    kind = suffix(path)
    try:
        if kind == ".json":
            return json.loads(text) if text.strip() else None
        if kind == ".toml":
            return tomllib.loads(text)
        return yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as e:
        raise syntax_error(path, where, "JSON", e.msg, e.lineno, e.colno) from None
    except tomllib.TOMLDecodeError as e:
        m = _TOML_AT.search(str(e))
        detail = _TOML_AT.sub("", str(e)).strip()
        raise syntax_error(path, where, "TOML", detail, *(map(int, m.groups()) if m else (None, None))) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        detail = str(getattr(e, "problem", None) or e)
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise syntax_error(path, where, "YAML", detail, line, col) from None


def _cell(value: str) -> Any:
    """csv/tsv text to int or float where it is one; anything else stays text."""
    v = value.strip()
    if not v:
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return value


def parse_rows(data: bytes, path: str, where: str) -> tuple[list[str], list[dict[str, Any]]]:
    """A csv/tsv file as (columns, rows) with numbers converted."""
    text = _text(data, path, where)
    delimiter = "\t" if suffix(path) == ".tsv" else ","
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
        lines = [row for row in reader if row]
    except csv.Error as e:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(e))) else None
        raise syntax_error(path, where, "CSV" if delimiter == "," else "TSV", str(e), line, None) from None
    if not lines:
        return [], []
    header = [h.strip() for h in lines[0]]
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        if len(values) != len(header):
            raise syntax_error(
                path,
                where,
                "CSV" if delimiter == "," else "TSV",
                f"{len(values)} fields where the header has {len(header)}",
                number,
                None,
            )
        rows.append({h: _cell(v) for h, v in zip(header, values, strict=True)})
    return header, rows


def flatten(doc: Any, prefix: str = "", lists: bool = True) -> dict[str, Any]:
    """Dotted keys for nested mappings (and lists by index when `lists`)."""
    out: dict[str, Any] = {}
    if isinstance(doc, dict) and doc:
        for k, v in doc.items():
            out.update(flatten(v, f"{prefix}{k}.", lists))
    elif lists and isinstance(doc, list) and doc:
        for i, v in enumerate(doc):
            out.update(flatten(v, f"{prefix}{i}.", lists))
    elif prefix:
        out[prefix[:-1]] = doc
    return out


def read_metrics(data: bytes, path: str, where: str) -> dict[str, Any]:
    """A metrics file as flat {dotted key: value}; csv/tsv: the last row."""
    if suffix(path) in (".csv", ".tsv"):
        _, rows = parse_rows(data, path, where)
        return dict(rows[-1]) if rows else {}
    doc = parse_document(data, path, where)
    if doc is None:
        return {}
    if not isinstance(doc, (dict, list)):
        raise PipelineError(
            f"{path} ({where}) holds a single {type(doc).__name__}, not named metrics",
            'write a mapping of names to values, e.g. {"accuracy": 0.91}',
        )
    return flatten(doc)


def read_params(data: bytes, path: str, where: str) -> dict[str, Any]:
    """A params file as flat {dotted key: value}; lists stay whole values."""
    doc = parse_document(data, path, where)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PipelineError(f"{path} ({where}) must hold a mapping of names to values", "write key: value pairs")
    return flatten(doc, lists=False)


def read_series(data: bytes, path: str, where: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Plot data as (columns, rows): csv/tsv rows, a json/yaml/toml list of records, or a mapping
    whose first list of records is the series (`{"train": [{"step": 0, "loss": 1.0}, ...]}`)."""
    if suffix(path) in (".csv", ".tsv"):
        return parse_rows(data, path, where)
    doc = parse_document(data, path, where)
    records = None
    if isinstance(doc, list):
        records = doc
    elif isinstance(doc, dict):
        records = next((v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)), None)
    if records is None or not all(isinstance(r, dict) for r in records):
        raise PipelineError(
            f"{path} ({where}) holds no series to plot",
            'write a list of records ([{"step": 0, "loss": 1.0}, ...]) or {"name": [records]}',
        )
    rows = [flatten(r, lists=False) for r in records]
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    return list(columns), rows


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
