"""A folder as storage (a local disk, a NAS mount): atomic puts via temp file + rename."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable, Iterator

from cairn.errors import PermissionDeniedError, RemoteKeyMissingError, RemoteNotFoundError
from cairn.storage.base import TMP_PREFIX, Storage


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalStorage(Storage):
    # Local copies keep a core busy each (reading, verifying, writing under the GIL): threads
    # beyond the cores only contend (a 20k-file push on 2 cores: 8 threads 0.82 s, 2 threads
    # 0.61 s). A network mount may want more: `remote modify NAME jobs N`.
    default_jobs = max(2, _cpus())
    checks_while_copying = True

    def __init__(self, root: str) -> None:
        self.root = root
        self.url = root
        self._made: set[str] = set()
        self._lock = threading.Lock()
        self._n = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key)

    def _tmp(self) -> str:
        with self._lock:
            self._n += 1
            n = self._n
        d = os.path.join(self.root, TMP_PREFIX)
        self._mkdir(d)
        return os.path.join(d, f"{os.getpid()}-{threading.get_ident()}-{n}")

    def _mkdir(self, d: str) -> None:
        if d not in self._made:
            try:
                os.makedirs(d, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise self._file_in_the_way() from None
            except PermissionError as e:
                raise PermissionDeniedError(
                    f"cannot write to the remote folder {self.root}: {e.strerror}",
                    "check the folder's permissions, or choose another remote URL",
                ) from e
            self._made.add(d)

    def _publish(self, tmp: str, key: str) -> None:
        dst = self._path(key)
        self._mkdir(os.path.dirname(dst))
        os.replace(tmp, dst)

    def put_bytes(self, key: str, data: bytes) -> None:
        tmp = self._tmp()
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            self._publish(tmp, key)
        except BaseException:
            _unlink(tmp)
            raise

    def put_file(self, key: str, path: str, consume: bool = False, check: Callable[[], None] | None = None) -> None:
        if check is not None:
            self._put_checked(key, path, check)
            return
        if consume:
            try:
                self._publish(path, key)  # one rename when both are on the same file system
                return
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
        tmp = self._tmp()
        try:
            shutil.copyfile(path, tmp)
            self._publish(tmp, key)
        except BaseException:
            _unlink(tmp)
            raise

    def _put_checked(self, key: str, path: str, check: Callable[[], None]) -> None:
        """The kernel copies into a temp file while `check` (a BLAKE3 pass, for push) runs on a
        second thread: a 2 GiB push took the hash then the copy, ~0.5 s + ~0.7 s, one after the
        other. The temp file becomes the key only once `check` has passed."""
        from concurrent.futures import ThreadPoolExecutor

        tmp = self._tmp()
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="cairn-check") as pool:
                checked = pool.submit(check)
                try:
                    shutil.copyfile(path, tmp)
                finally:
                    checked.result()  # its error wins: a bad source, whatever the copy did
            self._publish(tmp, key)
        except BaseException:
            _unlink(tmp)
            raise

    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                if start:
                    f.seek(start)
                if end is None:
                    return f.read()
                return f.read(max(0, end - (start or 0)))  # read(negative) would read to the end
        except FileNotFoundError:
            raise RemoteKeyMissingError(f"{self._path(key)} does not exist") from None
        except NotADirectoryError:
            raise self._file_in_the_way() from None

    def get_file(self, key: str, path: str) -> None:
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError:
            raise RemoteKeyMissingError(f"{self._path(key)} does not exist") from None
        except NotADirectoryError:
            raise self._file_in_the_way() from None

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))  # a key, not a folder of keys

    def scan(self, prefix: str) -> Iterator[tuple[str, int, float | None]]:
        base = self._path(prefix) if prefix else self.root
        for dirpath, dirnames, filenames in os.walk(base):
            if dirpath == self.root and TMP_PREFIX in dirnames:
                dirnames.remove(TMP_PREFIX)
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for name in filenames:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                yield (name if rel == "." else f"{rel}/{name}"), st.st_size, st.st_mtime

    def delete(self, key: str) -> None:
        _unlink(self._path(key))

    def _file_in_the_way(self) -> RemoteNotFoundError:
        """The error for a remote path at or under a file, which no folder of keys can be."""
        where = self.root
        while where and not os.path.exists(where) and os.path.dirname(where) != where:
            where = os.path.dirname(where)
        return RemoteNotFoundError(
            f"the remote {self.root} is not a folder: {where} is a file",
            "move that file away, or fix the URL with `cairn remote modify NAME url PATH`",
        )

    def check(self) -> None:
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise self._file_in_the_way()
        parent = os.path.dirname(self.root.rstrip("/")) or "/"
        if not os.path.isdir(self.root) and not os.path.isdir(parent):
            raise RemoteNotFoundError(
                f"the remote folder {self.root} does not exist, nor does its parent",
                "create it (mkdir -p) or fix the URL with `cairn remote modify NAME url PATH`",
            )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
