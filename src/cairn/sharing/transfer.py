"""Bringing a source's data over: open its data remote, fetch what a version reaches (verified,
as every fetch), and write a version from a store to a path (temp + rename)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from cairn.errors import ConfigError, PathError
from cairn.objects.store import ObjectStore
from cairn.objects.tree import FILE, TREE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.fetch import fetch, raise_for_failures
from cairn.remotes.remote import Remote
from cairn.scm.foreign import cache_root
from cairn.sharing.source import SourceRepo, Tracked
from cairn.storage import open_storage

_LOCAL_ONLY = ("jobs", "pack_size")


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
    index = cache_root().parent / "remotes" / f"{blake3(url.encode()).hexdigest()[:16]}.db"
    index.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"pack_target": pack_size} if pack_size else {}
    return Remote(name, storage, index, jobs or spec_jobs or storage.default_jobs, **kwargs)


@dataclass(frozen=True)
class Version:
    """A file or folder version inside a source: what a get or an import brings."""

    kind: str
    oid: str
    size: int
    files: int
    exec: bool = False


def resolve(remote: Remote, tracked: Tracked, inner: str) -> Version:
    """The version at `inner` below `tracked` (itself for ""), reading only the trees on the way
    from the remote (verified)."""
    if not inner:
        return Version(tracked.kind, tracked.oid, tracked.size, tracked.files, tracked.exec)
    oid = tracked.oid
    parts = inner.split("/")
    for i, name in enumerate(parts):
        entry = Tree.from_bytes(remote.read_object(oid), oid).get(name)
        if entry is None or (entry.kind == FILE and i < len(parts) - 1):
            raise PathError(
                f"{tracked.path} has no {'/'.join(parts[: i + 1])}",
                f"list it with `cairn ls SOURCE {tracked.path} -R`",
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
    result = fetch(_StoreOnly(store), remote, [(version.kind, version.oid)], progress)  # type: ignore[arg-type]
    raise_for_failures(remote, result)
    return result


def place(store: ObjectStore, version: Version, dest: Path, link: bool = False) -> None:
    """Write `version` from `store` to `dest`, which must not exist: built under a temporary name
    beside it and renamed into place, so a failure leaves nothing. With `link`, files are hard
    links to the store's objects and made writable: only for a store that is thrown away after."""
    if os.path.lexists(dest):
        raise PathError(f"{dest} already exists", "choose another output path (-o), or move it away first")
    tmp = dest.with_name(f".{dest.name}.cairn-tmp-{os.getpid()}")
    try:
        if version.kind == FILE:
            _put_file(store, version.oid, str(tmp), version.exec, link, set())
        else:
            _put_tree(store, version.oid, str(tmp), link, set())
        os.rename(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _put_tree(store: ObjectStore, oid: str, path: str, link: bool, linked: set[str]) -> None:
    os.mkdir(path)
    for e in Tree.from_bytes(store.read(oid), oid).entries:
        target = f"{path}/{e.name}"
        if e.kind == TREE:
            _put_tree(store, e.oid, target, link, linked)
        else:
            _put_file(store, e.oid, target, e.exec, link, linked)


def _put_file(store: ObjectStore, oid: str, path: str, exe: bool, link: bool, linked: set[str]) -> None:
    mode = 0o755 if exe else 0o644
    # a second file with the same content gets a copy: two names for one inode would change together
    if link and oid not in linked:
        try:
            os.link(store.path(oid), path)
            os.chmod(path, mode)
            linked.add(oid)
            return
        except OSError:
            pass
    shutil.copyfile(store.path(oid), path)
    os.chmod(path, mode)
