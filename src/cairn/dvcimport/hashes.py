"""DVC's hashes and cache layouts, as dvc-data computes and stores them.

- DVC 3 (`hash: md5` in the record): plain md5 of the bytes; objects under `files/md5/XX/...`.
- DVC 2 (no `hash:`; dvc-data calls it md5-dos2unix): md5 of the bytes, except that each 1 MiB
  chunk that looks like text (its first 512 bytes hold no NUL and at most 30% non-text bytes)
  is hashed with CRLF turned into LF; objects under `XX/...` at the top of the cache.
- A folder is a `.dir` object: the JSON list of {"md5", "relpath"} sorted by relpath, dumped with
  `json.dumps(..., sort_keys=True)`; its id is the md5 of that text plus `.dir`. The stored file may
  also carry each file's meta (size, isexec), which does not count for the id."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

CHUNK = 2**20  # dvc-data's fobj_md5 chunk: the text test is made per chunk
_TEXT_BLOCK = 512
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
DIR_SUFFIX = ".dir"


def is_text_block(block: bytes) -> bool:
    """dvc-data's istextblock."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


class Md5Pair:
    """md5 of a byte stream fed in chunks of CHUNK bytes, plain (DVC 3) and dos2unix (DVC 2) at
    once. The second is only hashed from the first chunk dos2unix changes: until then it is the
    same hash (copied from the first at that point)."""

    __slots__ = ("_legacy", "_plain")

    def __init__(self) -> None:
        self._plain = hashlib.md5(usedforsecurity=False)
        self._legacy: hashlib._Hash | None = None

    def update(self, chunk: bytes) -> None:
        if self._legacy is None and b"\r\n" in chunk and is_text_block(chunk[:_TEXT_BLOCK]):
            self._legacy = self._plain.copy()
        self._plain.update(chunk)
        if self._legacy is not None:
            text = is_text_block(chunk[:_TEXT_BLOCK])
            self._legacy.update(chunk.replace(b"\r\n", b"\n") if text else chunk)

    def digests(self) -> tuple[str, str]:
        plain = self._plain.hexdigest()
        return plain, (self._legacy.hexdigest() if self._legacy is not None else plain)


def file_md5s(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(md5, md5-dos2unix) of a file."""
    pair = Md5Pair()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            pair.update(chunk)
    return pair.digests()


def bytes_md5s(data: bytes) -> tuple[str, str]:
    """(md5, md5-dos2unix) of bytes held in memory."""
    pair = Md5Pair()
    for i in range(0, len(data), CHUNK):
        pair.update(data[i : i + CHUNK])
    return pair.digests()


def dir_md5(entries: Iterable[tuple[str, str]]) -> str:
    """The id DVC gives a folder of (relpath, md5) files."""
    listing = sorted(({"md5": m, "relpath": r} for r, m in entries), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode(), usedforsecurity=False).hexdigest() + DIR_SUFFIX


def is_md5(value: object) -> bool:
    if not isinstance(value, str):
        return False
    core = value[: -len(DIR_SUFFIX)] if value.endswith(DIR_SUFFIX) else value
    return len(core) == 32 and all(c in "0123456789abcdef" for c in core)


def object_key(md5: str, legacy: bool) -> str:
    """Where a cache or remote keeps the object, relative to its top."""
    return f"{md5[:2]}/{md5[2:]}" if legacy else f"files/md5/{md5[:2]}/{md5[2:]}"


def parse_listing(data: bytes) -> list[tuple[str, str, bool]] | None:
    """(relpath, md5, isexec) of a `.dir` object, or None when it is not one."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    out = []
    for e in doc:
        if not isinstance(e, dict) or not isinstance(e.get("relpath"), str) or not is_md5(e.get("md5")):
            return None
        rel = e["relpath"].replace("\\", "/")
        parts = rel.split("/")
        if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return None  # a listing that would write outside its folder
        out.append((rel, e["md5"], bool(e.get("isexec", False))))
    return out
