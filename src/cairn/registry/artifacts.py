"""The `artifacts:` section of cairn.yaml: what a model (or any other artifact) is, as DVC 3's
dvc.yaml declares it (path, type, desc, labels, meta), plus what serving needs: the entry point
(`serve: module:function`), the input and output signature and an input example.

    artifacts:
      churn:
        path: models/churn.pkl
        type: model
        desc: churn classifier
        labels: [tabular]
        meta: {owner: ml-team}
        serve: serve_churn:predict
        signature:
          inputs: {tenure: int, charges: float}
          outputs: {churn: int}
        example: examples/churn.json      # a JSON list of records (or the list itself)

Problems are collected with their file:line:col before failing, as for stages."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import PipelineError, RegistryError
from cairn.pipelines.yamlfile import Located
from cairn.registry import tagnames

KEYS = {"path", "type", "desc", "labels", "meta", "serve", "signature", "example"}
TYPES = ("int", "float", "str", "bool")
_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Artifact:
    name: str
    path: str  # repo-relative
    type: str | None = None
    desc: str | None = None
    labels: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    serve: str | None = None  # module:function
    inputs: dict[str, str] = field(default_factory=dict)  # column -> type
    outputs: dict[str, str] = field(default_factory=dict)
    example: str | list | None = None  # a repo-relative JSON file, or the records themselves

    def signature(self) -> dict[str, Any] | None:
        if not self.inputs and not self.outputs:
            return None
        return {"inputs": self.inputs, "outputs": self.outputs}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "type": self.type,
            "desc": self.desc,
            "labels": self.labels,
            "meta": self.meta,
            "serve": self.serve,
            "signature": self.signature(),
        }


def parse(doc: Located) -> dict[str, Artifact]:
    """Every artifact the document declares; PipelineError listing each problem."""
    problems: list[str] = []

    def bad(path: tuple, message: str) -> None:
        problems.append(f"{doc.where(path)}: {message}")

    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("artifacts") or {}
    out: dict[str, Artifact] = {}
    if not isinstance(section, dict):
        bad(("artifacts",), "`artifacts` must map artifact names to their definitions")
        section = {}
    for name, body in section.items():
        at = ("artifacts", name)
        try:
            tagnames.check_name(str(name))
        except RegistryError as e:
            bad(at, f"{e.message} ({e.hint})")
            continue
        if not isinstance(body, dict):
            bad(at, f"artifact {name!r} must be a mapping with at least `path:`")
            continue
        for key in body:
            if key not in KEYS:
                bad((*at, key), f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
        art = _artifact(str(name), body, at, bad)
        if art is not None:
            out[art.name] = art
    if problems:
        n = len(problems)
        raise PipelineError(
            f"the artifacts of {doc.name} have {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(problems),
            "fix them and run the command again (see docs/registry.md for the format)",
            problems,
        )
    return out


def _artifact(name: str, body: dict, at: tuple, bad) -> Artifact | None:
    path = body.get("path")
    if not isinstance(path, str) or not path.strip():
        bad((*at, "path") if "path" in body else at, f"artifact {name!r} needs a `path:` (a file or folder)")
        return None
    norm = posixpath.normpath(path.strip())
    if norm.startswith(("/", "../")) or norm == "..":
        bad((*at, "path"), f"path {path!r} leaves the repository; give a path inside it")
        return None
    art = Artifact(name, norm)
    for key in ("type", "desc"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            bad((*at, key), f"`{key}` must be a string")
        else:
            setattr(art, key, value)
    labels = body.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        bad((*at, "labels"), "`labels` must be a list of strings")
    else:
        art.labels = labels
    meta = body.get("meta", {})
    if not isinstance(meta, dict):
        bad((*at, "meta"), "`meta` must be a mapping")
    else:
        art.meta = meta
    serve = body.get("serve")
    if serve is not None:
        if not isinstance(serve, str) or not _ENTRY.match(serve):
            bad((*at, "serve"), f"`serve` must be module:function (e.g. serve_model:predict), not {serve!r}")
        else:
            art.serve = serve
    sig = body.get("signature")
    if sig is not None:
        if not isinstance(sig, dict) or set(sig) - {"inputs", "outputs"}:
            bad((*at, "signature"), "`signature` holds `inputs:` and `outputs:`, each mapping column names to types")
        else:
            art.inputs = _columns(sig.get("inputs"), (*at, "signature", "inputs"), bad)
            art.outputs = _columns(sig.get("outputs"), (*at, "signature", "outputs"), bad)
    example = body.get("example")
    if example is not None:
        if isinstance(example, str):
            art.example = posixpath.normpath(example)
        elif isinstance(example, list) and all(isinstance(r, dict) for r in example):
            art.example = example
        else:
            bad((*at, "example"), "`example` is a JSON file (a list of records) or a list of records")
    return art


def _columns(spec: Any, at: tuple, bad) -> dict[str, str]:
    """`{name: type}` or a list of `{name:, type:}` (MLflow's column spec)."""
    if spec is None:
        return {}
    if isinstance(spec, list):
        items = {}
        for i, col in enumerate(spec):
            if not isinstance(col, dict) or "name" not in col or "type" not in col:
                bad((*at, i), "a column is {name: NAME, type: TYPE}")
                continue
            items[str(col["name"])] = col["type"]
        spec = items
    if not isinstance(spec, dict):
        bad(at, "columns map names to types (int, float, str, bool)")
        return {}
    out = {}
    for col, kind in spec.items():
        if kind not in TYPES:
            bad((*at, col), f"column {col!r} has type {kind!r}; types are {', '.join(TYPES)}")
        else:
            out[str(col)] = kind
    return out


def find(artifacts: dict[str, Artifact], name: str, where: str) -> Artifact:
    art = artifacts.get(name)
    if art is None:
        from difflib import get_close_matches

        near = get_close_matches(name, list(artifacts), n=1)
        known = ", ".join(sorted(artifacts)) or "none"
        raise RegistryError(
            f"unknown artifact {name!r} in cairn.yaml {where}",
            f"did you mean {near[0]!r}?" if near else f"declare it under `artifacts:` (declared: {known})",
        )
    return art
