"""Pulling into folders the workspace does not have yet (a fresh clone): the files are written
while their objects arrive, not in a second pass that reads every object back from the cache.

Each such folder is built in a private folder under .cairn/tmp as its trees and objects are
fetched (every object verified first, as always), and moved into place with one rename when the
fetch succeeded and the path is still free. A failed or interrupted pull leaves the workspace
untouched. The checkout that follows finds these files in place (their stat rows are recorded)
and writes only what the fetch did not bring: objects that were already in the cache, large
objects, the second copy of a file that occurs twice."""

from __future__ import annotations

import os
import shutil
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from cairn.index.statcache import Record, stamp
from cairn.objects.newfile import unique_name
from cairn.objects.tree import TREE, Tree

_STALE_S = 3600  # staging folders of pulls killed before this are removed by the next pull
# a staged file's stat row as kept until the pull records it: inode, mtime_ns, ctime_ns, size, id
_ROW = struct.Struct("<QqqQ32s")


class Staging:
    def __init__(self, tmp: Path, folders: list[tuple[str, str]]) -> None:
        """`folders`: (root tree oid, repo-relative path) of each folder to build."""
        _sweep(tmp)
        self.base = tmp / f"pull-{unique_name()}"
        self._dirs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # tree oid -> [(staged dir, rel)]
        # oid -> [(staged, rel, exec)] of the files of the folders in the fetch's current batch
        self._files: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
        self._roots: list[tuple[str, str]] = []
        # the stat rows of the files written, by folder: their names and packed rows (_ROW), ~130
        # bytes a file where a list of Record tuples took ~400 (issue 22: a million files)
        self._records: dict[str, tuple[list[str], bytearray]] = {}
        self._lock = threading.Lock()  # `write` runs on several threads
        for i, (oid, rel) in enumerate(folders):
            staged = str(self.base / str(i))
            os.makedirs(staged)
            self._dirs[oid].append((staged, rel))
            self._roots.append((staged, rel))

    def expand(self, oid: str, tree: Tree) -> None:
        """A tree was read: make the subfolders of its staged copies, note where its files go
        until `batch_done`. (Between fetch batches only: `write` runs meanwhile on worker
        threads.)"""
        for staged, rel in self._dirs.pop(oid, ()):
            for e in tree.entries:
                path, sub = f"{staged}/{e.name}", f"{rel}/{e.name}"
                if e.kind == TREE:
                    os.mkdir(path)
                    self._dirs[e.oid].append((path, sub))
                else:
                    self._files[e.oid].append((path, sub, e.exec))

    def write(self, oid: str, data: bytes | memoryview) -> None:
        """Write the staged copies of a verified object. The folder is private until it is moved
        into place, so a plain create is enough (a half-written file is never published)."""
        for path, rel, exe in self._files.get(oid, ()):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if exe else 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                st = os.fstat(fd)
            finally:
                os.close(fd)
            folder, _, name = rel.rpartition("/")
            row = _ROW.pack(st.st_ino, *stamp(st), st.st_size, bytes.fromhex(oid))
            with self._lock:
                got = self._records.get(folder)
                if got is None:
                    got = self._records[folder] = ([], bytearray())
                got[0].append(name)
                got[1].extend(row)

    def batch_done(self) -> None:
        """The fetch is done with the current batch's files: an object it brings later is a
        file of later folders (what it finds in the cache, checkout writes)."""
        self._files.clear()

    def publish(self, root: Path) -> list[str]:
        """Move each staged folder to its path if that is still free. Returns the paths placed
        (their files' stat rows: `records`)."""
        placed: list[str] = []
        for staged, rel in self._roots:
            if os.path.lexists(root / rel):
                continue  # something appeared there meanwhile: checkout decides
            try:
                os.rename(staged, root / rel)
            except OSError:
                continue
            placed.append(rel)
        return placed

    def _folders(self, tops: Iterable[str]) -> Iterator[tuple[str, list[str], bytearray]]:
        tops = tuple(tops)
        for folder, (names, rows) in self._records.items():
            if any(folder == t or folder.startswith(t + "/") for t in tops):
                yield folder, names, rows

    def records(self, tops: Iterable[str]) -> Iterator[Record]:
        """The stat rows of the files written under the folders `tops`, grouped by folder (as
        StatCache.update takes them one folder at a time)."""
        for folder, names, rows in self._folders(tops):
            for name, (ino, mtime, ctime, size, key) in zip(names, _ROW.iter_unpack(rows), strict=True):
                yield f"{folder}/{name}", ino, (mtime, ctime), size, key.hex()

    def paths(self, top: str) -> list[str]:
        """The files written under the folder `top` (placed by `publish`)."""
        return [f"{folder}/{name}" for folder, names, _ in self._folders([top]) for name in names]

    def discard(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def _sweep(tmp: Path) -> None:
    cutoff = time.time() - _STALE_S
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return
    for e in entries:
        try:
            if e.name.startswith("pull-") and e.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(e.path, ignore_errors=True)
        except FileNotFoundError:
            pass
