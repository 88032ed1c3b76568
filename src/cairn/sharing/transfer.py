"""Bringing a source's data over: open its data remote, fetch what a version reaches (verified,
as every fetch) into a store or straight to a path (temp + rename), and a URL's version from
its bytes."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from cairn.errors import ConfigError, PathError
from cairn.objects.store import ObjectStore
from cairn.objects.tree import FILE, TREE, Entry, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.fetch import fetch, raise_for_failures
from cairn.remotes.remote import Remote
from cairn.sharing import urls
from cairn.sharing.source import SourceRepo, Tracked
from cairn.storage import open_storage
from cairn.usercache import folder as user_cache_folder
from cairn.usercache.hold import Hold


def open_remote(
    source: SourceRepo, overlay: dict[str, Any] | None = None, name: str | None = None, jobs: int | None = None
) -> Remote:
    """The source's data remote, with `overlay` (this machine's settings for the same URL:
    credentials, an endpoint) on top of its committed settings; the environment supplies the rest
    (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, ...)."""
    name, committed = source.data_remote(name)
    spec = {**committed, **(overlay or {})}
    url = str(spec.pop("url"))
    if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
        if "://" in source.url:
            raise ConfigError(
                f"remote {name!r} of {source.url} is a relative folder ({url}), which only exists beside that "
                "repository",
                "read it from a local clone of the source (give its path), or ask its maintainers for a shared remote",
            )
        url = os.path.join(source.url, url)  # relative folders are relative to the source's root
    spec_jobs = spec.pop("jobs", None)
    pack_size = spec.pop("pack_size", None)
    storage = open_storage(url, spec)
    # what the remote holds is cached per user, like the source repositories themselves
    # (held while the Remote lives, so pruning the per-user cache leaves it be)
    index = user_cache_folder("remotes") / f"{blake3(url.encode()).hexdigest()[:16]}.db"
    hold = Hold(index, url)
    kwargs = {"pack_target": pack_size} if pack_size else {}
    try:
        remote = Remote(name, storage, index, jobs or spec_jobs or storage.default_jobs, **kwargs)
    except BaseException:
        hold.close()
        raise
    hold.tie(remote)
    return remote


@dataclass(frozen=True)
class Version:
    """A file or folder version inside a source: what a get or an import brings."""

    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False


def resolve(remote: Remote, tracked: Tracked, inner: str, url: str) -> Version:
    """The version at `inner` below `tracked` (itself for ""), reading only the trees on the way
    from the remote (verified); `url` (the source repository's) goes into the error's hint."""
    if not inner:
        return Version(tracked.kind, tracked.oid, tracked.size, tracked.files, tracked.exec)
    oid = tracked.oid
    parts = inner.split("/")
    for i, name in enumerate(parts):
        entry = Tree.from_bytes(remote.read_object(oid), oid).get(name)
        if entry is None or (entry.kind == FILE and i < len(parts) - 1):
            raise PathError(
                f"{tracked.path} in {url} has no {'/'.join(parts[: i + 1])}",
                f"list it with `cairn ls {url} {tracked.path} -R`",
            )
        oid = entry.oid
    files = 1 if entry.kind == FILE else _count_files(remote, oid)
    return Version(entry.kind, entry.oid, entry.size, files, entry.exec)


def _count_files(remote: Remote, oid: str) -> int:
    n = 0
    for e in Tree.from_bytes(remote.read_object(oid), oid).entries:
        n += _count_files(remote, e.oid) if e.kind == TREE else 1
    return n


class _StoreOnly:
    """What a fetch needs of a workspace: the store the objects go to."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store


def fetch_version(store: ObjectStore, remote: Remote, version: Version, progress: Progress = NULL):
    """Every object of `version` into `store`, verified; fails naming what the remote lacks."""
    # loose, as before: what links or copies these objects out is not known here
    result = fetch(_StoreOnly(store), remote, [(version.kind, version.oid)], progress, pack_small=False)  # type: ignore[arg-type]
    raise_for_failures(remote, result)
    return result


class _Placer:
    """Writes the files of a version being fetched straight to their places under a new folder
    (the fetch's staging hooks: `expand` when a tree was read, `write` with each verified object),
    so a `get` writes every file once and keeps no copy."""

    def __init__(self, version: Version, dest: str) -> None:
        self.dirs: dict[str, list[str]] = defaultdict(list)
        self.files: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        self.done: dict[str, str] = {}  # oid -> a path it was written to
        self.trees: dict[str, Tree] = {}  # the trees read so far
        if version.kind == TREE:
            os.mkdir(dest)
            self.dirs[version.oid].append(dest)
        else:
            self.files[version.oid].append((dest, version.exec))

    def expand(self, oid: str, tree: Tree) -> None:
        self.trees[oid] = tree
        for folder in self.dirs.pop(oid, ()):
            self._fill(folder, tree)

    def _fill(self, folder: str, tree: Tree) -> None:
        for e in tree.entries:
            path = f"{folder}/{e.name}"
            if e.kind == TREE:
                os.mkdir(path)
                if e.oid in self.trees:  # read at an earlier level: the fetch will not bring it again
                    self._fill(path, self.trees[e.oid])
                else:
                    self.dirs[e.oid].append(path)
            elif e.oid in self.done:  # the same: copy the file written then
                shutil.copyfile(self.done[e.oid], path)
                os.chmod(path, 0o755 if e.exec else 0o644)
            else:
                self.files[e.oid].append((path, e.exec))

    def wants(self, oid: str) -> bool:
        return oid in self.files and oid not in self.dirs

    def batch_done(self) -> None:
        """The fetch finished a batch of files: the places are kept (a `get` writes every file
        itself, a copy in a later folder too, from what `done` remembers)."""

    def write(self, oid: str, data: bytes | memoryview) -> None:
        places = self.files.pop(oid, ())
        for path, exe in places:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if exe else 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        if places:
            self.done[oid] = places[0][0]

    def move(self, tmp: str, oid: str) -> None:
        """A large object, downloaded (and verified) into a temp file: it becomes the first copy."""
        places = self.files.pop(oid, [])
        for i, (path, exe) in enumerate(places):
            if i == 0:
                os.replace(tmp, path)
            else:
                shutil.copyfile(places[0][0], path)
            os.chmod(path, 0o755 if exe else 0o644)
        if places:
            self.done[oid] = places[0][0]


class _TreesOnly(ObjectStore):
    """A throwaway store for a fetch that keeps the trees (the fetch reads them to go on) and
    hands every file to the placer instead of storing it."""

    def __init__(self, root: Path, placer: _Placer) -> None:
        super().__init__(root)
        self.placer = placer

    def add_absent(self, data: bytes | memoryview, oid: str) -> None:
        if not self.placer.wants(oid):  # written by the placer right after, from the same bytes
            super().add_absent(data, oid)

    def publish(self, tmp: str, oid: str) -> None:
        if self.placer.wants(oid):
            self.placer.move(tmp, oid)
        else:
            super().publish(tmp, oid)


def download_version(remote: Remote, version: Version, dest: Path, scratch: Path, progress: Progress = NULL):
    """Fetch `version` straight to `dest` (which must not exist), every object verified: files
    are written as they arrive, built under a temporary name beside `dest` and renamed into place
    when complete. `scratch` (removed by the caller) holds only the tree objects."""
    if os.path.lexists(dest):
        raise PathError(f"{dest} already exists", "choose another output path (-o), or move it away first")
    tmp = dest.with_name(f".{dest.name}.cairn-tmp-{os.getpid()}")
    placer = _Placer(version, str(tmp))
    try:
        store = _TreesOnly(scratch, placer)
        # files go to the placer through the store's add_absent and publish: nothing is packed
        result = fetch(_StoreOnly(store), remote, [(version.kind, version.oid)], progress, placer, False)  # type: ignore[arg-type]
        raise_for_failures(remote, result)
        os.rename(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return result


def hash_version(store: ObjectStore, data: urls.UrlData) -> Version:
    """The version of a URL's data from its bytes read once; only tree objects are stored."""
    if not data.is_folder:
        with data.open() as f:
            oid, size = urls.hash_stream(f)
        return Version(FILE, oid, size, 1)
    folders: dict[str, list[Entry]] = {"": []}
    for rel, _ in data.files or []:
        with data.open(rel) as f:
            oid, size = urls.hash_stream(f)
        parent, _, name = rel.rpartition("/")
        parts = parent.split("/") if parent else []
        for i in range(len(parts)):
            folders.setdefault("/".join(parts[: i + 1]), [])
        folders[parent].append(Entry(name, FILE, oid, size, False))
    return _build_trees(store, folders, "")


def _build_trees(store: ObjectStore, folders: dict[str, list[Entry]], at: str) -> Version:
    entries, files = list(folders[at]), len(folders[at])
    for sub in sorted(k for k in folders if k and k.rpartition("/")[0] == at):
        v = _build_trees(store, folders, sub)
        entries.append(Entry(sub.rpartition("/")[2], TREE, v.oid, v.size, False))
        files += v.files
    oid, raw = Tree(entries).encode()
    store.add_bytes(raw, oid)
    return Version(TREE, oid, sum(e.size for e in entries), files)
