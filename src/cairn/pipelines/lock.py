"""cairn.lock: what each stage last ran with (cmd, dep ids, param values, the id of its
environment record) and produced (out ids). YAML with a fixed key order so git diffs stay
readable; written atomically. Version 1 locks (no environment records) still read; the next
write makes them version 2."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.errors import PipelineError, shown
from cairn.index import safepath
from cairn.objects.hashing import is_oid
from cairn.objects.tree import FILE, TREE
from cairn.pipelines import yamldocs, yamlfile

LOCK_FILE = "cairn.lock"
LOCK_VERSION = 2
READABLE = (1, 2)


@dataclass(frozen=True)
class PathState:
    path: str
    kind: str
    oid: str
    size: int
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "oid": self.oid, "size": self.size, "files": self.files}


@dataclass
class StageLock:
    cmd: list[str]
    deps: list[PathState] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> key -> value
    outs: list[PathState] = field(default_factory=list)
    env: str | None = None  # object id of the environment record of the run

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"cmd": self.cmd[0] if len(self.cmd) == 1 else list(self.cmd)}
        if self.deps:
            doc["deps"] = [d.to_dict() for d in self.deps]
        if self.params:
            doc["params"] = {f: dict(sorted(v.items())) for f, v in sorted(self.params.items())}
        if self.outs:
            doc["outs"] = [o.to_dict() for o in self.outs]
        if self.env:
            doc["env"] = self.env
        return doc

    def roots(self) -> list[tuple[str, str]]:
        """(kind, oid) of the cache objects this entry references: outputs and environment."""
        return [(o.kind, o.oid) for o in self.outs] + ([(FILE, self.env)] if self.env else [])

    def dep(self, path: str) -> PathState | None:
        return next((d for d in self.deps if d.path == path), None)

    def out(self, path: str) -> PathState | None:
        return next((o for o in self.outs if o.path == path), None)


_FIX = f"restore it from git (`git checkout -- {LOCK_FILE}`) or delete it to rerun every stage"


def read(root: Path) -> dict[str, StageLock]:
    path = root / LOCK_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as e:
        raise PipelineError(f"{LOCK_FILE} is not UTF-8 text (byte {e.start})", _FIX) from None
    return _stages(yamldocs.parsed(path, text, "lock", lambda: _load(text, LOCK_FILE)), LOCK_FILE)


def parse(text: str, where: str) -> dict[str, StageLock]:
    return _stages(_load(text, where), where)


def _load(text: str, where: str) -> Any:
    import yaml  # here: a lock already known (yamldocs) is read without PyYAML

    try:
        return yamlfile.load_data(text, where)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise PipelineError(f"{where}{at} is not valid YAML", _FIX) from None


def _stages(doc: Any, where: str) -> dict[str, StageLock]:
    doc = doc or {}
    if not isinstance(doc, dict):
        raise PipelineError(f"{where} is not a mapping", _FIX)
    if not doc:  # an empty file records no stage (as no file does)
        return {}
    version = doc.get("version")
    if type(version) is not int or version not in READABLE:
        raise PipelineError(
            f"{where} has format version {shown(version)}; this cairn reads {READABLE[0]} to {READABLE[-1]}",
            "upgrade cairn",
        )
    out = {}
    try:
        stages = doc.get("stages") or {}
        if not isinstance(stages, dict):
            raise ValueError("`stages` is not a mapping")
        for name, entry in stages.items():
            if not isinstance(entry, dict):
                raise ValueError(f"stage {shown(name)} is not a mapping")
            cmd = entry["cmd"]
            if not isinstance(cmd, (str, list)):
                raise ValueError(f"the cmd of stage {shown(name)} is not a command")
            env = entry.get("env")
            if env is not None and not is_oid(env):
                raise ValueError(f"invalid environment record id for stage {shown(name)}")
            out[str(name)] = StageLock(
                env=env,
                cmd=[cmd] if isinstance(cmd, str) else [str(c) for c in cmd],
                deps=[_state(d, False) for d in _items(entry, "deps")],
                params={str(f): dict(v or {}) for f, v in (entry.get("params") or {}).items()},
                outs=[_state(o, True) for o in _items(entry, "outs")],
            )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise PipelineError(f"{where} is damaged ({e})", _FIX) from None
    return out


def _items(entry: dict, key: str) -> list:
    items = entry.get(key) or []
    if not isinstance(items, list):
        raise ValueError(f"`{key}` is not a list")
    return items


def _state(d: dict, out: bool) -> PathState:
    """One dep or out. An out's path is where checkout writes it, so it must stay a plain
    repo-relative path outside .git/ and .cairn/ (a teammate's commit may hold anything)."""
    path = d["path"]
    wrong = safepath.problem(path, written=out)
    if wrong:
        raise ValueError(f"the path {shown(path)} {wrong}")
    if not is_oid(d["oid"]):
        raise ValueError(f"invalid oid for {path}")
    kind, size, files = d["kind"], d["size"], d.get("files", 1)
    if kind not in (FILE, TREE):
        raise ValueError(f"invalid kind {shown(kind)} for {path}")
    if type(size) is not int or type(files) is not int or size < 0 or files < 0:
        raise ValueError(f"invalid size or file count for {path}")
    return PathState(path, kind, d["oid"], size, files)


def dump(stages: dict[str, StageLock], order: list[str]) -> str:
    """The lock's text: entries in `order` (pipeline order), then any others by name."""
    return _text(_document(stages, order))


def _document(stages: dict[str, StageLock], order: list[str]) -> dict[str, Any]:
    ordered = [n for n in order if n in stages] + sorted(n for n in stages if n not in order)
    return {"version": LOCK_VERSION, "stages": {n: stages[n].to_dict() for n in ordered}}


def _text(doc: dict[str, Any]) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write(root: Path, stages: dict[str, StageLock], order: list[str]) -> None:
    """Write every entry, in pipeline order, atomically (a reader sees old or new)."""
    doc = _document(stages, order)
    text = _text(doc)
    tmp = root / f".{LOCK_FILE}.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, root / LOCK_FILE)
    # the safe dumper writes what its loader reads back as `doc` (tests/unit/pipelines hold it to that)
    yamldocs.put(root / LOCK_FILE, text, "lock", doc)
