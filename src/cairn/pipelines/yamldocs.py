"""Parsed YAML documents kept between commands, keyed by the BLAKE3 of their text.

A command that finds cairn.yaml, params.yaml and cairn.lock as an earlier command left them
neither imports PyYAML (~8 ms) nor parses them (~5 ms): a no-op `repro` or `status` is then
mostly interpreter start-up. The key is the content, so a hit is exact by construction (no
stat, no racy window); cairn.lock is recorded as it is written, from the document it was dumped
from (YAML's safe dumper quotes whatever its loader would read back differently).

One marshal file per project, .cairn/state/yaml-docs: {key: marshalled value}, the most recent
few kept. It is only a cache: an unreadable or missing file, or a value marshal cannot hold
(a YAML timestamp), just means parsing again."""

from __future__ import annotations

import marshal
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blake3 import blake3

_NAME = "yaml-docs"
_VERSION = 1  # part of every key: a cairn that reads YAML differently never sees old values
_KEEP = 32  # documents kept; a project reads a handful of YAML files
MISS = object()

_lock = threading.Lock()
_stores: dict[Path, dict[str, bytes]] = {}  # state folder -> its documents, loaded once per process


def _state_dir(path: Path) -> Path | None:
    """The .cairn/state of the project holding `path`; None outside any project."""
    d = path.absolute().parent
    for _ in range(64):
        if (d / ".cairn").is_dir():
            return d / ".cairn" / "state"
        if d.parent == d:
            return None
        d = d.parent
    return None


def _key(kind: str, text: str) -> str:
    return blake3(f"{_VERSION}:{kind}\0{text}".encode()).hexdigest()[:32]


def _read(state: Path) -> dict[str, bytes]:
    try:
        with open(state / _NAME, "rb") as f:
            docs = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return docs if isinstance(docs, dict) else {}


def get(path: Path, text: str, kind: str) -> Any:
    """The value stored for `text` read from `path` as `kind`, or MISS."""
    state = _state_dir(path)
    if state is None:
        return MISS
    with _lock:
        docs = _stores.get(state)
        if docs is None:
            docs = _stores[state] = _read(state)
    blob = docs.get(_key(kind, text))
    if blob is None:
        return MISS
    try:
        return marshal.loads(blob)  # a fresh copy per call: callers may change what they get
    except (EOFError, ValueError, TypeError):
        return MISS


def put(path: Path, text: str, kind: str, value: Any) -> None:
    """Remember `value` as what `text` (read from `path`) parses to as `kind`."""
    state = _state_dir(path)
    if state is None:
        return
    try:
        blob = marshal.dumps(value)
    except ValueError:  # e.g. a date: not worth caching
        return
    key = _key(kind, text)
    with _lock:
        docs = _read(state)  # what other processes added since this one loaded it
        docs.pop(key, None)
        docs[key] = blob  # the newest last; the oldest go first
        for old in list(docs)[: max(0, len(docs) - _KEEP)]:
            del docs[old]
        _stores[state] = docs
        tmp = state / f".{_NAME}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            state.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                marshal.dump(docs, f)
            os.replace(tmp, state / _NAME)
        except OSError:  # a read-only project still works, only slower
            try:
                os.unlink(tmp)
            except OSError:
                pass


def parsed(path: Path, text: str, kind: str, parse: Callable[[], Any]) -> Any:
    """What `text` (read from `path`) parses to as `kind`: remembered, else `parse()`, kept."""
    value = get(path, text, kind)
    if value is MISS:
        value = parse()
        put(path, text, kind, value)
    return value
