"""The storage interface and the URL -> backend mapping."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from cairn.errors import ConfigError

# Backends without atomic writes write a key here first and move it into place; one left
# behind (a killed transfer) is garbage `gc --remote` removes once it is old.
TMP_PREFIX = ".tmp"


class Storage(ABC):
    """Keys are '/'-separated relative paths. A put is atomic: readers see the whole value or
    nothing, even if the writer dies (temp + rename locally; a single PUT or a completed
    multipart upload on object stores)."""

    url: str
    # Transfers at once when neither -j nor the remote's `jobs` says: network requests wait on
    # latency, so many overlap well.
    default_jobs: int = 8
    # put_file runs its `check` on a second thread while it copies (else before the upload)
    checks_while_copying: bool = False

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, path: str, consume: bool = False, check: Callable[[], None] | None = None) -> None:
        """Upload a local file, streaming (large files never sit in memory). With `consume` the
        caller will not use the file again: a backend on the same file system may move it
        instead of copying (the caller removes it if it is still there). `check` raises when the
        file must not be published (a cache object that fails its hash): a backend may run it
        while it copies, but the key appears only once it has returned."""

    @abstractmethod
    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The value, or bytes [start, end) of it. Raises RemoteKeyMissingError."""

    @abstractmethod
    def get_file(self, key: str, path: str) -> None:
        """Download to a local path, streaming."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def scan(self, prefix: str) -> Iterator[tuple[str, int, float | None]]:
        """(key, size, mtime) of every key under the folder `prefix` (recursive), in no set order.
        mtime is when the key was written, in seconds since the epoch (None when the backend
        cannot tell)."""

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every key under the folder `prefix` (recursive), in no set order."""
        for key, size, _ in self.scan(prefix):
            yield key, size

    def peek(self, key: str) -> bytes:
        """The whole value of one small key, as cheaply as the backend can read it (S3: one
        signed request without loading s3fs). Same contract as get_bytes."""
        return self.get_bytes(key)

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a key; removing a missing key is not an error."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Fail early with a clear message when the storage cannot be reached or does not exist."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def open_storage(url: str, options: dict[str, Any] | None = None) -> Storage:
    """A backend for `url`: a local path or file://, memory://, or any fsspec scheme."""
    options = dict(options or {})
    if url.startswith("memory://"):
        from cairn.storage.memory import MemoryStorage

        return MemoryStorage.named(url)
    if url.startswith("file://"):
        url = url[len("file://") :]
    if "://" not in url:
        from cairn.storage.local import LocalStorage

        return LocalStorage(os.path.abspath(os.path.expanduser(url)))
    scheme = url.split("://", 1)[0]
    if not scheme.isidentifier():
        raise ConfigError(f"cannot read the remote URL {url!r}", "use a path, file://, s3://, gs://, az:// or ssh://")
    from cairn.storage.fsspec import FsspecStorage

    return FsspecStorage(url, options)
