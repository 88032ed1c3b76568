"""`-S KEY=VALUE` overrides: parsing (values as YAML scalars), sweeps (`a,b,c`, `range(2,8,2)`)
and applying them to params files (yaml, json, toml)."""

from __future__ import annotations

import itertools
import json
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cairn.errors import UserInputError
from cairn.pipelines import params as params_mod

_RANGE = re.compile(r"^range\(\s*(-?\d+)\s*,\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)$")
# YAML 1.1 (PyYAML) reads 1e-5 and 1e5 as strings (it wants a dot and a signed exponent); a user
# writing -S lr=1e-5 means a number, and Python's own repr of 0.00001 is 1e-05.
_EXP_FLOAT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Override:
    file: str  # repo-relative params file
    key: str
    value: Any
    add: bool = False  # `+key=value`: the key may be new

    def label(self) -> str:
        """`[+][FILE:]KEY=VALUE`, which `parse` reads back to this same override (the queue
        stores overrides this way)."""
        prefix = ("+" if self.add else "") + ("" if self.file == params_mod.DEFAULT_PARAMS else f"{self.file}:")
        return f"{prefix}{self.key}={_render(self.value)}"


def _render(value: Any) -> str:
    """The plainest text that reads back as `value`: a string as it is unless it would read as
    something else ("true", "0.1", "a,b", "range(1,3)"), else JSON, else YAML (dates, inf)."""
    candidates = [value] if isinstance(value, str) else []
    try:
        candidates.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        pass
    candidates.append(
        yaml.dump(value, Dumper=_Dumper, default_flow_style=True, allow_unicode=True, width=1 << 30)
        .removesuffix("...\n")
        .strip()
    )
    for text in candidates:
        try:
            if _alternatives(text.strip(), text) == [value]:  # as `parse` reads it
                return text
        except UserInputError:
            continue
    return candidates[-1]


def parse_value(raw: str, where: str) -> Any:
    try:
        value = yaml.load(raw, Loader=_Loader) if raw != "" else ""
    except yaml.YAMLError:
        raise UserInputError(
            f"cannot parse the value in {where!r}", "write a number, true/false, a string, or a YAML list like [1, 2]"
        ) from None
    if isinstance(value, str) and value == raw.strip() and _EXP_FLOAT.match(value):
        return float(value)
    return value


def parse(specs: list[str]) -> list[list[Override]]:
    """One list of alternatives per -S; a sweep gives several alternatives."""
    out = []
    for spec in specs:
        key_part, eq, raw = spec.partition("=")
        if not eq or not key_part.strip():
            raise UserInputError(f"cannot read the override {spec!r}", "write KEY=VALUE, e.g. -S train.lr=0.01")
        add = key_part.startswith("+")
        key_part = key_part.lstrip("+").strip()
        file, sep, key = key_part.rpartition(":")
        if key.startswith("+"):  # `conf/train.json:+model.width=64` reads as `+conf/train.json:...`
            add, key = True, key.lstrip("+").strip()
        file = posixpath.normpath(file) if sep else params_mod.DEFAULT_PARAMS
        if file == ".":
            raise UserInputError(f"no params file before ':' in {spec!r}", "write FILE:KEY=VALUE, or KEY=VALUE")
        if posixpath.isabs(file) or file == ".." or file.startswith("../"):
            raise UserInputError(
                f"the params file {key_part.rpartition(':')[0]!r} of {spec!r} is outside the repository",
                "name a file inside the repository, relative to its root",
            )
        out.append([Override(file, key, v, add) for v in _alternatives(raw.strip(), spec)])
    return out


def _alternatives(raw: str, spec: str) -> list[Any]:
    m = _RANGE.match(raw)
    if m:
        start, stop, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if step == 0:
            raise UserInputError(f"range step is 0 in {spec!r}", "use a non-zero step, e.g. range(2,8,2)")
        values = list(range(start, stop, step))
        if not values:
            raise UserInputError(f"{raw} is empty in {spec!r}", "check start, stop and step")
        return values
    if "," in raw and not raw.startswith(("[", "{", '"', "'")):
        return [parse_value(part.strip(), spec) for part in raw.split(",")]
    return [parse_value(raw, spec)]


def combinations(parsed: list[list[Override]]) -> list[list[Override]]:
    """The cartesian product of every -S's alternatives."""
    return [list(c) for c in itertools.product(*parsed)] if parsed else [[]]


def apply(root: Path, overrides: list[Override]) -> None:
    """Write the overrides into their params files; refuses unknown keys (unless `+key`)."""
    by_file: dict[str, list[Override]] = {}
    for o in overrides:
        by_file.setdefault(o.file, []).append(o)
    for file, items in by_file.items():
        path = root / file
        doc = params_mod.read(path, file) if path.exists() else {}
        for o in items:
            try:
                params_mod.lookup(doc, o.key)
            except KeyError:
                if not o.add:
                    spelled = o.key if file == params_mod.DEFAULT_PARAMS else f"{file}:{o.key}"
                    if not path.exists():
                        raise UserInputError(
                            f"there is no params file {file} for {spelled!r}",
                            f"fix the file name, or create it with -S +{spelled}=...",
                        ) from None
                    known = ", ".join(sorted(params_mod.flatten(doc))[:12]) or "none"
                    raise UserInputError(
                        f"{file} has no param {o.key!r} (it has: {known})",
                        f"fix the name, or add a new key with -S +{spelled}=...",
                    ) from None
            _set(doc, o.key, o.value)
        _write(path, doc)


def _set(doc: dict, key: str, value: Any) -> None:
    node = doc
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserInputError(f"cannot set {key!r}: {part!r} is not a mapping", "override a leaf key")
    node[parts[-1]] = value


def _write(path: Path, doc: dict) -> None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(doc, indent=2) + "\n"
    elif suffix == ".toml":
        import tomlkit

        text = tomlkit.dumps(doc)
    else:
        text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)  # `+conf/new.yaml:key=...` makes conf/ too
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
