"""Params files (yaml, json, toml), flattened to dotted keys: {"train": {"lr": 0.1}} -> train.lr."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from cairn.errors import PipelineError
from cairn.pipelines import yamldocs, yamlfile
from cairn.pipelines.yamlfile import MAX_DEPTH

DEFAULT_PARAMS = "params.yaml"


def read(path: Path, name: str | None = None) -> dict[str, Any]:
    """The file's content as nested data; an error names the file, line and column."""
    name = name or str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PipelineError(f"params file {name} does not exist", f"create {name}, or fix the stage's params") from None
    except IsADirectoryError:
        raise PipelineError(
            f"params file {name} is a folder", f"make {name} a file, or fix the stage's params"
        ) from None
    except UnicodeDecodeError as e:
        raise PipelineError(f"params file {name} is not UTF-8 text (byte {e.start})", "save it as UTF-8") from None
    if Path(name).suffix.lower() in (".json", ".toml"):  # the standard library parses these fast
        return parse(text, name)
    return yamldocs.parsed(path, text, "params", lambda: parse(text, name))


def parse(text: str, name: str) -> dict[str, Any]:
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".json":
            doc = json.loads(text)
        elif suffix == ".toml":
            doc = tomllib.loads(text)
        else:
            doc = _yaml(text, name)
    except json.JSONDecodeError as e:
        raise PipelineError(f"{name}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}", "fix the syntax there") from None
    except tomllib.TOMLDecodeError as e:
        raise PipelineError(f"{name}: invalid TOML: {e}", "fix the syntax there") from None
    except RecursionError:  # JSON or TOML nested about a thousand levels deep
        raise _too_deep(name) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PipelineError(f"{name} must hold a mapping of names to values", "write key: value pairs")
    if suffix in (".json", ".toml"):
        _check_depth(doc, name)
    return doc


def _check_depth(doc: Any, name: str) -> None:
    """JSON and TOML hold no aliases, so only their nesting needs a bound (YAML's is checked on
    its nodes, pipelines/yamlfile.py): every reader of params recurses."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(name)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _too_deep(name: str) -> PipelineError:
    return PipelineError(
        f"{name}: refused: values are nested more than {MAX_DEPTH} levels deep",
        "simplify the file, or restore it from git",
    )


def _yaml(text: str, name: str) -> Any:
    import yaml  # here: imported only when a YAML text is not already known (yamldocs)

    try:
        return yamlfile.load_data(text, name)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise PipelineError(f"{at}: invalid YAML: {getattr(e, 'problem', e)}", "fix the syntax there") from None


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def lookup(doc: dict[str, Any], key: str) -> Any:
    """The value at dotted `key`; KeyError when absent."""
    node: Any = doc
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node
