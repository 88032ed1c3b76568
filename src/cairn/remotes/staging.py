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
import time
from collections import defaultdict
from pathlib import Path

from cairn.index.statcache import Record, stamp
from cairn.objects.newfile import unique_name
from cairn.objects.tree import TREE, Tree

_STALE_S = 3600  # staging folders of pulls killed before this are removed by the next pull


class Staging:
    def __init__(self, tmp: Path, folders: list[tuple[str, str]]) -> None:
        """`folders`: (root tree oid, repo-relative path) of each folder to build."""
        _sweep(tmp)
        self.base = tmp / f"pull-{unique_name()}"
        self._dirs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # tree oid -> [(staged dir, rel)]
        self._files: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)  # oid -> [(staged, rel, exec)]
        self._roots: list[tuple[str, str]] = []
        self._records: list[Record] = []
        for i, (oid, rel) in enumerate(folders):
            staged = str(self.base / str(i))
            os.makedirs(staged)
            self._dirs[oid].append((staged, rel))
            self._roots.append((staged, rel))

    def expand(self, oid: str, tree: Tree) -> None:
        """A tree was read: make the subfolders of its staged copies, note where its files go.
        (Between fetch levels only: `write` runs meanwhile on worker threads.)"""
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
            self._records.append((rel, st.st_ino, stamp(st), st.st_size, oid))

    def publish(self, root: Path) -> dict[str, list[Record]]:
        """Move each staged folder to its path if that is still free. Returns the stat rows of
        the files placed, by folder."""
        placed: dict[str, list[Record]] = {}
        for staged, rel in self._roots:
            if os.path.lexists(root / rel):
                continue  # something appeared there meanwhile: checkout decides
            try:
                os.rename(staged, root / rel)
            except OSError:
                continue
            placed[rel] = []
        for record in self._records:
            for rel, rows in placed.items():
                if record[0].startswith(rel + "/"):
                    rows.append(record)
                    break
        return placed

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
