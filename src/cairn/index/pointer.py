"""Pointer files (`<path>.cairn`): the small YAML file committed to git for each tracked path.

Pointers as cairn writes them (plain names, ASCII) are read and written by a strict fast path
that yields exactly what PyYAML would (a property test holds it to that); anything else goes
through PyYAML. Importing PyYAML costs ~10 ms, which is a tenth of a no-op `status`."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from cairn.errors import PointerError, shown
from cairn.objects.hashing import is_oid
from cairn.objects.tree import FILE, TREE

POINTER_VERSION = 1
SUFFIX = ".cairn"
_KEYS = ("version", "path", "kind", "oid", "size", "files", "exec", "follow_symlinks")
# `source:` (an import's origin, docs/formats.md) is an extension with a version of its own, so
# pointers without one keep format version 1 and read as before.
SOURCE_VERSION = 1
_SOURCE_VALUE = (str, int, bool, type(None))

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789.-")
_HEX = frozenset("0123456789abcdef")
# plain scalars that YAML 1.1 resolves to booleans or null rather than strings
_YAML_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null"})


def _plain_name(value: str) -> bool:
    """A name that YAML writes bare and reads back as the same string."""
    return (
        bool(value)
        and value[0] in _NAME_START
        and all(c in _NAME_CHARS for c in value)
        and value.lower() not in _YAML_WORDS
    )


def _plain_oid(value: str) -> bool:
    # all digits would read back as an int (or octal); hex letters make it a string
    return len(value) == 64 and all(c in _HEX for c in value) and not value.isdigit()


def _yaml():  # the module, imported only when the fast path does not apply
    import yaml

    return yaml


@dataclass(frozen=True, slots=True)
class Pointer:
    """What one pointer file says. `path` is relative to the pointer file's folder."""

    path: str
    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False
    follow_symlinks: bool = False  # added with --follow-symlinks: links leaving the repository are data too
    # where an import came from: (key, scalar) pairs in the order written; () for plain data
    source: tuple[tuple[str, object], ...] = ()

    def source_doc(self) -> dict[str, object] | None:
        return dict(self.source) if self.source else None

    def to_yaml(self) -> str:
        if _plain_name(self.path) and _plain_oid(self.oid) and self.kind in (FILE, TREE) and not self.source:
            text = (
                f"version: {POINTER_VERSION}\npath: {self.path}\nkind: {self.kind}\noid: {self.oid}\n"
                f"size: {self.size}\nfiles: {self.files}\n"
            )
            text += "exec: true\n" if self.exec else ""
            return text + "follow_symlinks: true\n" if self.follow_symlinks else text
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
        if self.follow_symlinks:
            doc["follow_symlinks"] = True
        if self.source:
            doc["source"] = dict(self.source)
        yaml = _yaml()
        return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def _fast_load(text: str | bytes) -> dict[str, object] | None:
    """The mapping PyYAML would read, for pointers in the form `to_yaml` writes; else None."""
    if isinstance(text, bytes):
        if not text.isascii():
            return None
        text = text.decode("ascii")
    elif not text.isascii():
        return None
    doc: dict[str, object] = {}
    for line in text.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep or key in doc:
            return None
        if key in ("version", "size", "files"):
            if not value.isdigit() or (value[0] == "0" and value != "0"):  # leading 0: YAML octal
                return None
            doc[key] = int(value)
        elif (
            (key == "path" and _plain_name(value))
            or (key == "kind" and value in (FILE, TREE))
            or (key == "oid" and _plain_oid(value))
        ):
            doc[key] = value
        elif key in ("exec", "follow_symlinks") and value == "true":
            doc[key] = True
        else:
            return None
    return doc or None


def _load(text: str | bytes, where: str, fix: str) -> object:
    doc = _fast_load(text)
    if doc is not None:
        return doc
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PointerError(f"pointer file {where} is not valid YAML{at}", fix) from None


def parse(text: str | bytes, where: str) -> Pointer:
    """Parse and validate pointer text; `where` names the file (and revision) in errors."""
    fix = f"restore it with `git checkout -- {where}` or re-create it with `cairn add`"
    doc = _load(text, where, fix)
    if not isinstance(doc, dict):
        raise PointerError(f"pointer file {where} is not a mapping of keys to values", fix)
    version = doc.get("version")
    if type(version) is not int or version != POINTER_VERSION:
        raise PointerError(
            f"pointer file {where} has format version {shown(version)}; "
            f"this cairn understands version {POINTER_VERSION}",
            "upgrade cairn (`pip install -U cairn`) or re-create the pointer with `cairn add`",
        )
    unknown = set(doc) - set(_KEYS) - {"source"}
    if unknown:
        raise PointerError(
            f"pointer file {where} has unknown keys: {', '.join(sorted(str(k)[:80] for k in unknown))}", fix
        )
    path, kind, oid = doc.get("path"), doc.get("kind"), doc.get("oid")
    size, files = doc.get("size"), doc.get("files", 1)
    if not isinstance(path, str) or not path:
        raise PointerError(f"pointer file {where} has no `path`", fix)
    check_relative(path, where)
    if kind not in (FILE, TREE):
        raise PointerError(f"pointer file {where} has kind {shown(kind)}; expected file or tree", fix)
    if not is_oid(oid):
        raise PointerError(f"pointer file {where} has an invalid oid {shown(oid)}", fix)
    if type(size) is not int or size < 0 or type(files) is not int or files < 0:
        raise PointerError(f"pointer file {where} has an invalid size or file count", fix)
    exe = doc.get("exec", False)
    if type(exe) is not bool:
        raise PointerError(f"pointer file {where} has `exec: {shown(exe)}`; it must be true or false", fix)
    follow = doc.get("follow_symlinks", False)
    if type(follow) is not bool:
        raise PointerError(f"pointer file {where} has `follow_symlinks: {follow!r}`; it must be true or false", fix)
    return Pointer(path, kind, oid, size, files, exe, follow, _source(doc.get("source"), where, fix))


def _source(doc: object, where: str, fix: str) -> tuple[tuple[str, object], ...]:
    """The `source:` extension: a flat mapping of scalars carrying its own version."""
    if doc is None:
        return ()
    scalars = isinstance(doc, dict) and all(isinstance(k, str) and isinstance(v, _SOURCE_VALUE) for k, v in doc.items())
    if not scalars:
        raise PointerError(f"pointer file {where} has a `source` that is not a mapping of names to values", fix)
    version = doc.get("version")
    if type(version) is not int or version != SOURCE_VERSION:
        raise PointerError(
            f"pointer file {where} has an import source of version {shown(version)}; "
            f"this cairn understands version {SOURCE_VERSION}",
            "upgrade cairn (`pip install -U cairn`)",
        )
    return tuple(doc.items())


def check_relative(path: str, where: str) -> None:
    """A pointer's path must stay beside its pointer file: no absolute paths, no `..`."""
    if "\0" in path:
        raise PointerError(
            f"pointer file {where} has path {shown(path)}, which holds a NUL character no file name can hold",
            "re-create the pointer with `cairn add`",
        )
    norm = posixpath.normpath(path.replace("\\", "/"))
    if path.startswith(("/", "\\")) or os.path.isabs(path) or norm == ".." or norm.startswith("../"):
        raise PointerError(
            f"pointer file {where} points outside the repository ({shown(path)})",
            "a pointer's `path` must be a name beside the pointer file; fix or delete the pointer",
        )
    if "/" in norm or norm in (".", ""):
        raise PointerError(
            f"pointer file {where} has path {shown(path)}; it must name the file or folder beside it",
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
