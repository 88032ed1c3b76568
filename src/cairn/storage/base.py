"""The storage interface and the URL -> backend mapping."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from cairn.errors import ConfigError


class Storage(ABC):
    """Keys are '/'-separated relative paths. A put is atomic: readers see the whole value or
    nothing, even if the writer dies (temp + rename locally; a single PUT or a completed
    multipart upload on object stores)."""

    url: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, path: str) -> None:
        """Upload a local file, streaming (large files never sit in memory)."""

    @abstractmethod
    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The value, or bytes [start, end) of it. Raises RemoteKeyMissingError."""

    @abstractmethod
    def get_file(self, key: str, path: str) -> None:
        """Download to a local path, streaming."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every key under the folder `prefix` (recursive), in no set order."""

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
