"""The cairn version of each version DVC recorded, found by content.

For a recorded path cairn first hashes the workspace (as `cairn add` would, filling the stat
cache, so the next `cairn status` reads nothing) and checks DVC's md5 of the same bytes, in the
same read; only a workspace that matches stands for the record. Otherwise the bytes come from
the DVC cache (either layout), then from the DVC remote when one is given: each object is checked
against its md5, hashed with BLAKE3 and stored, and the folder's trees are built from its
`.dir` listing. A version found earlier (the md5 map of an earlier import) is reused."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from blake3 import blake3

from cairn.dvcimport.dvcfiles import Recorded
from cairn.dvcimport.hashes import CHUNK, Md5Pair, bytes_md5s, dir_md5, file_md5s, object_key, parse_listing
from cairn.index.snapshot import snapshot
from cairn.objects.hashing import THREADS
from cairn.objects.tree import FILE, TREE, Entry, Tree, walk_files
from cairn.workspace.context import Workspace

_SMALL = 8 * 2**20  # read whole: hashing both ways and storing need it once


@dataclass(frozen=True)
class Version:
    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False

    def to_list(self) -> list:
        return [self.kind, self.oid, self.size, self.files, self.exec]


class Unresolved(Exception):
    """The recorded bytes are nowhere to be found (the message says where cairn looked)."""


def sentinel_oid(md5: str) -> str:
    """An id no content has, for a dependency whose recorded bytes are gone: the stage is then
    stale for cairn exactly as it is for DVC."""
    return blake3(f"cairn import-dvc: unavailable md5 {md5}".encode()).hexdigest()


class Resolver:
    def __init__(
        self,
        ws: Workspace,
        cache_dir: Path,
        store: bool,
        remote_get: Callable[[str], bytes] | None = None,
        known: dict[str, Version] | None = None,
    ) -> None:
        self.ws = ws
        self.cache_dir = cache_dir
        self.store = store
        self.remote_get = remote_get
        self.known = dict(known or {})  # recorded md5 (legacy ones prefixed `2:`) -> version
        self.found: dict[str, Version] = {}  # what this run resolved (the map it leaves)
        self.records: list = []  # stat cache rows of hashed workspace files
        self.keep: dict[str, set[str]] = {}
        self._md5s: dict[str, tuple[str, str]] = {}  # absolute path -> (md5, md5-dos2unix)
        self._objects: dict[tuple[str, bool], tuple[str, int]] = {}  # (md5, legacy) -> (oid, size)
        self._by_path: dict[tuple[str, str], Version] = {}
        self._lock = threading.Lock()

    # -- entry point -----------------------------------------------------------------------------
    def resolve(self, rec: Recorded) -> Version:
        assert rec.md5 is not None
        key = ("2:" if rec.legacy else "") + rec.md5
        done = self._by_path.get((rec.path, key))  # a stage's dep that another stage outputs
        if done is not None:
            return done
        version = self._from_workspace(rec)
        if version is None:
            version = self._from_known(key) or self._from_cache(rec)
        self.found[key] = self._by_path[(rec.path, key)] = version
        return version

    # -- the workspace -----------------------------------------------------------------------------
    def _hash_fn(self, path: str, size: int) -> str:
        if size <= _SMALL:
            with open(path, "rb") as f:
                data = f.read()
            oid = blake3(data).hexdigest()
            self._md5s[path] = bytes_md5s(data)
            if self.store:
                self.ws.store.add_bytes(data, oid)
            return oid
        pair, b3 = Md5Pair(), blake3(max_threads=THREADS)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                pair.update(chunk)
                b3.update(chunk)
        self._md5s[path] = pair.digests()
        return self.ws.store.add_file_copy(path, size) if self.store else b3.hexdigest()

    def _md5_of(self, path: str, legacy: bool) -> str:
        pair = self._md5s.get(path)
        if pair is None:  # the stat cache knew the file: not read this time
            pair = self._md5s[path] = file_md5s(path)
        return pair[1] if legacy else pair[0]

    def _from_workspace(self, rec: Recorded) -> Version | None:
        rel = rec.path
        try:
            snap = snapshot(self.ws.abs(rel), rel, self.ws.stats, self.ws.ignore, self._hash_fn, self.ws.progress)
        except (OSError, ValueError):
            return None
        if snap is None:
            return None
        base = str(self.ws.abs(rel))
        if snap.kind == FILE:
            if rec.is_dir or self._md5_of(base, rec.legacy) != rec.md5:
                return None
            if self.store and not self.ws.store.exists(snap.oid):
                self.ws.store.add_file_copy(base, snap.size)
        else:
            if not rec.is_dir:
                return None
            load = self.ws.tree_loader(snap.trees)
            listing = [(p, self._md5_of(f"{base}/{p}", rec.legacy)) for p, _ in walk_files(snap.oid, load)]
            if dir_md5(listing) != rec.md5:
                return None
            if self.store:
                if snap.hashed < snap.files:  # files the stat cache vouched for: store them too
                    for p, e in walk_files(snap.oid, load):
                        if not self.ws.store.exists(e.oid):
                            self.ws.store.add_file_copy(f"{base}/{p}", e.size)
                for oid, data in snap.trees.items():
                    self.ws.store.add_bytes(data, oid)
        self.records.extend(snap.records)
        self.keep.update(snap.keep)
        return Version(snap.kind, snap.oid, snap.size, snap.files, snap.exec)

    # -- an earlier import -------------------------------------------------------------------------
    def _from_known(self, key: str) -> Version | None:
        v = self.known.get(key)
        if v is None or not self.ws.store.exists(v.oid):
            return None
        return v

    # -- the DVC cache and remote ----------------------------------------------------------------
    def _read_object(self, md5: str, legacy: bool, path: str) -> bytes:
        key = object_key(md5, legacy)
        try:
            with open(self.cache_dir / key, "rb") as f:
                return f.read()
        except FileNotFoundError:
            pass
        if self.remote_get is not None:
            try:
                return self.remote_get(key)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise Unresolved(f"{path}: reading md5 {md5} from the DVC remote failed ({e})") from None
        where = "the DVC cache" + (" nor the DVC remote" if self.remote_get is not None else "")
        raise Unresolved(f"{path} (md5 {md5}) is neither in the workspace nor in {where}")

    def _object(self, md5: str, legacy: bool, path: str) -> tuple[str, int]:
        """(BLAKE3 id, size) of the DVC object `md5`, stored in the cairn cache."""
        done = self._objects.get((md5, legacy))
        if done is not None:
            return done
        data = self._read_object(md5, legacy, path)
        plain, dos2unix = bytes_md5s(data)
        if (dos2unix if legacy else plain) != md5:
            raise Unresolved(f"{path}: the DVC object of md5 {md5} is damaged (its bytes have md5 {plain})")
        oid = blake3(data).hexdigest()
        if self.store:
            self.ws.store.add_bytes(data, oid)
        with self._lock:
            self._objects[(md5, legacy)] = (oid, len(data))
        return oid, len(data)

    def _from_cache(self, rec: Recorded) -> Version:
        assert rec.md5 is not None
        if not rec.is_dir:
            oid, size = self._object(rec.md5, rec.legacy, rec.path)
            return Version(FILE, oid, size, 1, rec.isexec)
        listing = parse_listing(self._read_object(rec.md5, rec.legacy, rec.path))
        if listing is None:
            raise Unresolved(f"{rec.path}: the DVC listing {rec.md5} is not a folder listing")
        if dir_md5((r, m) for r, m, _ in listing) != rec.md5:
            raise Unresolved(f"{rec.path}: the DVC listing {rec.md5} is damaged")
        task = self.ws.progress.task(f"reading {rec.path} from the DVC cache", len(listing))
        try:
            with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:

                def one(item: tuple[str, str, bool]) -> tuple[str, str, int, bool]:
                    rel, md5, exe = item
                    oid, size = self._object(md5, rec.legacy, f"{rec.path}/{rel}")
                    task.advance()
                    return rel, oid, size, exe

                files = list(pool.map(one, listing))
        finally:
            task.close()
        oid, size, trees = build_trees(files)
        if self.store:
            for tree_oid, data in trees.items():
                self.ws.store.add_bytes(data, tree_oid)
        return Version(TREE, oid, size, len(files))

    def flush_stats(self) -> None:
        """Record the hashed workspace files in the stat cache (after the conversion is written)."""
        if self.records or self.keep:
            self.ws.stats.update(self.records, self.keep)


def build_trees(files: list[tuple[str, str, int, bool]]) -> tuple[str, int, dict[str, bytes]]:
    """(root tree id, total size, encoded trees by id) of (relpath, oid, size, exec) files."""
    folders: dict[str, list[Entry]] = {"": []}
    for rel, oid, size, exe in files:
        folder, _, name = rel.rpartition("/")
        folders.setdefault(folder, []).append(Entry(name, FILE, oid, size, exe))
    for folder in list(folders):
        parent = folder.rpartition("/")[0] if folder else None
        while parent is not None and parent not in folders:
            folders[parent] = []
            parent = parent.rpartition("/")[0] if parent else None
    trees: dict[str, bytes] = {}
    sizes: dict[str, tuple[str, int]] = {}
    for folder in sorted(folders, key=lambda f: -f.count("/") if f else 1):
        entries = folders[folder]
        oid, data = Tree(entries).encode()
        trees[oid] = data
        total = sum(e.size for e in entries)
        sizes[folder] = (oid, total)
        if folder:
            parent, _, name = folder.rpartition("/")
            folders[parent].append(Entry(name, TREE, oid, total))
    root_oid, total = sizes[""]
    return root_oid, total, trees


def replace_ignore(ws: Workspace, ignore) -> Workspace:
    return dataclasses.replace(ws, ignore=ignore)
