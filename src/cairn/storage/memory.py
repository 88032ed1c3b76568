"""In-memory storage: for tests, and the reference the conformance suite holds others to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from cairn.errors import RemoteKeyMissingError
from cairn.storage.base import Storage


class MemoryStorage(Storage):
    default_jobs = 2  # nothing to wait on: more threads only contend for the GIL
    _named: ClassVar[dict[str, MemoryStorage]] = {}

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._data: dict[str, bytes] = {}
        self._mtime: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def named(cls, url: str) -> MemoryStorage:
        """The same store for the same URL within one process."""
        if url not in cls._named:
            cls._named[url] = cls(url)
        return cls._named[url]

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._lock:
            self._data[key] = bytes(data)
            self._mtime[key] = time.time()

    def put_file(self, key: str, path: str, consume: bool = False, check: Callable[[], None] | None = None) -> None:
        if check is not None:
            check()
        with open(path, "rb") as f:
            self.put_bytes(key, f.read())

    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            value = self._data[key]
        except KeyError:
            raise RemoteKeyMissingError(f"{self.url}/{key} does not exist") from None
        return value[start:end] if start is not None or end is not None else value

    def get_file(self, key: str, path: str) -> None:
        data = self.get_bytes(key)
        with open(path, "wb") as f:
            f.write(data)

    def exists(self, key: str) -> bool:
        return key in self._data

    def scan(self, prefix: str) -> Iterator[tuple[str, int, float | None]]:
        p = prefix.rstrip("/") + "/" if prefix else ""
        with self._lock:
            items = [(k, len(v), self._mtime.get(k)) for k, v in self._data.items() if k.startswith(p)]
        yield from items

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)
            self._mtime.pop(key, None)

    def set_mtime(self, key: str, mtime: float) -> None:
        """Pretend `key` was written at `mtime` (tests of age-based cleanup)."""
        with self._lock:
            self._mtime[key] = mtime
