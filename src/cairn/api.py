"""The Python API: what a script or notebook needs, with no CLI in between.

import cairn.api
data = cairn.api.read("data/labels.csv", rev="v1.0")
data = cairn.api.read("model.bin", rev="v2", remote="store")  # no pull needed
with cairn.api.open("data/images/cat.png", mode="rb") as f: ...

Bytes come from the cache when it has them, else straight from a remote (verified against
their ids, not stored in the cache): the one named, or the default remote.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from cairn.errors import ObjectMissingError, PathError
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, TREE, Tree
from cairn.repo import Repo
from cairn.workspace.add import AddResult
from cairn.workspace.context import data_rel
from cairn.workspace.status import PathStatus

if TYPE_CHECKING:
    from cairn.remotes.remote import Remote

__all__ = ["add", "open", "read", "status"]

_builtin_open = open


def read(
    path: str | os.PathLike[str],
    rev: str | None = None,
    repo: str | os.PathLike[str] | None = None,
    remote: str | None = None,
) -> bytes:
    """The bytes of tracked file `path` at git revision `rev` (default: the workspace pointers),
    verified against its id. From the cache when it has them, else from `remote` (default: the
    default remote) without storing them: no pull needed."""
    with _located(path, rev, repo, remote) as (objects, oid):
        return objects.read(oid)


def open(
    path: str | os.PathLike[str],
    rev: str | None = None,
    mode: str = "r",
    encoding: str | None = None,
    repo: str | os.PathLike[str] | None = None,
    remote: str | None = None,
) -> IO:
    """A read-only file object for tracked file `path` at `rev`; mode "r" (text) or "rb".

    The file is verified against its id before it is returned, and never sits in memory whole:
    from the cache it is the cache file itself; from a remote it is first downloaded to a
    temporary file (gone once closed)."""
    if mode not in ("r", "rb", "rt"):
        raise PathError(f"cairn.api.open reads only; mode {mode!r} is not supported", 'use mode="r" or mode="rb"')
    with _located(path, rev, repo, remote) as (objects, oid):
        f = objects.open(oid)
    return f if mode == "rb" else io.TextIOWrapper(f, encoding=encoding or "utf-8")


def status(targets: Iterable[str] | None = None, repo: str | os.PathLike[str] | None = None) -> list[PathStatus]:
    """What changed in tracked data against its pointers."""
    r = Repo.find(repo)
    try:
        return r.status(targets)
    finally:
        r.close()


def add(
    paths: Iterable[str | os.PathLike[str]],
    repo: str | os.PathLike[str] | None = None,
    follow_symlinks: bool | None = None,
) -> list[AddResult]:
    """Track files or folders, as `cairn add` (`follow_symlinks` as `--follow-symlinks`)."""
    r = Repo.find(repo)
    try:
        return r.add([os.fspath(p) for p in paths], follow_symlinks)
    finally:
        r.close()


@contextmanager
def _located(
    path: str | os.PathLike[str], rev: str | None, repo: str | os.PathLike[str] | None, remote: str | None
) -> Iterator[tuple[_Objects, str]]:
    """The objects to read from and the id of tracked file `path` at `rev`."""
    r = Repo.find(repo)
    objects = _Objects(r, remote)
    try:
        rel = r.ws.rel(os.path.join(r.root, path) if repo is not None and not os.path.isabs(path) else path)
        yield objects, _oid_at(r, rel, rev, objects.read)
    finally:
        objects.close()
        r.close()


class _Objects:
    """Verified objects from the cache, or else from a remote (opened on first need)."""

    def __init__(self, r: Repo, remote: str | None) -> None:
        self.r = r
        self.name = remote
        self._remote: Remote | None = None

    def read(self, oid: str) -> bytes:
        try:
            return self.r.store.read_verified(oid)
        except ObjectMissingError:
            pass  # not chained: the remote's answer is what matters
        return self._from_remote(oid).read_object(oid)

    def open(self, oid: str) -> IO[bytes]:
        try:
            return self.r.store.open_verified(oid)
        except ObjectMissingError:
            pass
        remote = self._from_remote(oid)
        tmp = self.r.store.tmp_path("read")
        remote.download_verified(oid, tmp)
        f = _builtin_open(tmp, "rb")
        os.unlink(tmp)  # the open file stays readable; nothing is left behind once it is closed
        return f

    def _from_remote(self, oid: str) -> Remote:
        if self._remote is None:
            if self.name is None and self.r.remotes.default() is None:
                raise ObjectMissingError(
                    f"object {oid} is not in the cache and no remote is set to read it from",
                    "pass remote=NAME, set a default remote (`cairn remote default NAME`), or `cairn pull`",
                    [oid],
                )
            self._remote = self.r.remotes.open(self.name)
        return self._remote

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()


def _oid_at(r: Repo, rel: str, rev: str | None, read: Callable[[str], bytes]) -> str:
    """Find the pointer that covers `rel` (itself or a tracked ancestor folder) at `rev`."""
    parts = rel.split("/")
    for i in range(len(parts), 0, -1):
        data = "/".join(parts[:i])
        pointer_rel = data + ptr.SUFFIX
        text = _pointer_text(r, pointer_rel, rev)
        if text is None:
            continue
        p = ptr.parse(text, pointer_rel if rev is None else f"{pointer_rel} at {rev}")
        if data_rel(pointer_rel, p) != data:
            continue
        if p.kind == FILE:
            if i == len(parts):
                return p.oid
            break
        oid, kind = p.oid, p.kind
        for name in parts[i:]:
            # a file inside the tracked folder has no children: its bytes are not a tree to parse
            entry = Tree.from_bytes(read(oid), oid).get(name) if kind == TREE else None
            if entry is None:
                raise PathError(f"{rel} is not in the tracked folder {data}" + (f" at {rev}" if rev else ""))
            oid, kind = entry.oid, entry.kind
        if kind != FILE:  # also when `rel` is the tracked folder itself (no parts left to walk)
            raise PathError(f"{rel} is a folder; read() takes a file", "name a file inside it")
        return oid
    raise PathError(
        f"{rel} is not tracked by cairn" + (f" at revision {rev}" if rev else ""),
        "check the path, or track it with `cairn add`",
    )


def _pointer_text(r: Repo, pointer_rel: str, rev: str | None) -> bytes | None:
    if rev is None:
        try:
            with _builtin_open(r.root / pointer_rel, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
    return r._need_git("api.read(rev=...)").read_file(rev, pointer_rel)
