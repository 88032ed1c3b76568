"""Pointer files (`<path>.cairn`): the small YAML file committed to git for each tracked path."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import yaml

from cairn.errors import PointerError
from cairn.objects.hashing import is_oid
from cairn.objects.tree import FILE, TREE

POINTER_VERSION = 1
SUFFIX = ".cairn"
_KEYS = ("version", "path", "kind", "oid", "size", "files", "exec")

try:
    _Loader = yaml.CSafeLoader
    _Dumper = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader  # type: ignore[assignment,misc]
    _Dumper = yaml.SafeDumper  # type: ignore[assignment,misc]


@dataclass(frozen=True, slots=True)
class Pointer:
    """What one pointer file says. `path` is relative to the pointer file's folder."""

    path: str
    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False

    def to_yaml(self) -> str:
        doc: dict[str, object] = {
            "version": POINTER_VERSION,
            "path": self.path,
            "kind": self.kind,
            "oid": self.oid,
            "size": self.size,
            "files": self.files,
        }
        if self.exec:
            doc["exec"] = True
        return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def parse(text: str | bytes, where: str) -> Pointer:
    """Parse and validate pointer text; `where` names the file (and revision) in errors."""
    fix = f"restore it with `git checkout -- {where}` or re-create it with `cairn add`"
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PointerError(f"pointer file {where} is not valid YAML{at}", fix) from None
    if not isinstance(doc, dict):
        raise PointerError(f"pointer file {where} is not a mapping of keys to values", fix)
    version = doc.get("version")
    if type(version) is not int or version != POINTER_VERSION:
        raise PointerError(
            f"pointer file {where} has format version {version!r}; this cairn understands version {POINTER_VERSION}",
            "upgrade cairn (`pip install -U cairn`) or re-create the pointer with `cairn add`",
        )
    unknown = set(doc) - set(_KEYS)
    if unknown:
        raise PointerError(f"pointer file {where} has unknown keys: {', '.join(sorted(unknown))}", fix)
    path, kind, oid = doc.get("path"), doc.get("kind"), doc.get("oid")
    size, files = doc.get("size"), doc.get("files", 1)
    if not isinstance(path, str) or not path:
        raise PointerError(f"pointer file {where} has no `path`", fix)
    check_relative(path, where)
    if kind not in (FILE, TREE):
        raise PointerError(f"pointer file {where} has kind {kind!r}; expected file or tree", fix)
    if not is_oid(oid):
        raise PointerError(f"pointer file {where} has an invalid oid {oid!r}", fix)
    if type(size) is not int or size < 0 or type(files) is not int or files < 0:
        raise PointerError(f"pointer file {where} has an invalid size or file count", fix)
    exe = doc.get("exec", False)
    if type(exe) is not bool:
        raise PointerError(f"pointer file {where} has `exec: {exe!r}`; it must be true or false", fix)
    return Pointer(path, kind, oid, size, files, exe)


def check_relative(path: str, where: str) -> None:
    """A pointer's path must stay beside its pointer file: no absolute paths, no `..`."""
    norm = posixpath.normpath(path.replace("\\", "/"))
    if path.startswith(("/", "\\")) or os.path.isabs(path) or norm == ".." or norm.startswith("../"):
        raise PointerError(
            f"pointer file {where} points outside the repository ({path!r})",
            "a pointer's `path` must be a name beside the pointer file; fix or delete the pointer",
        )
    if "/" in norm or norm in (".", ""):
        raise PointerError(
            f"pointer file {where} has path {path!r}; it must name the file or folder beside it",
            "re-create the pointer with `cairn add`",
        )
    if norm in (".git", ".cairn"):
        # checkout would replace git's or cairn's own folder with data
        raise PointerError(
            f"pointer file {where} points at {norm}/, which git or cairn manages itself",
            "delete this pointer file; it was not written by `cairn add`",
        )


def load(pointer_file: Path) -> Pointer:
    return parse(pointer_file.read_bytes(), str(pointer_file))


def save(pointer_file: Path, pointer: Pointer) -> None:
    """Write atomically: a reader or a crash sees the old pointer or the new one, never half."""
    tmp = pointer_file.with_name(f".{pointer_file.name}.{os.getpid()}.tmp")
    tmp.write_text(pointer.to_yaml())
    os.replace(tmp, pointer_file)


def pointer_file_for(data_path: Path) -> Path:
    return data_path.with_name(data_path.name + SUFFIX)


def data_path_for(pointer_file: Path, pointer: Pointer) -> Path:
    return pointer_file.parent / pointer.path
