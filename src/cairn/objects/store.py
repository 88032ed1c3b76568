"""The write-once object store: `<root>/objects/<2 hex>/<62 hex>`.

Objects are written to `<root>/tmp` and renamed into place, so a reader never sees a partial
object and several processes can write the same object at once (both renames carry the same
bytes). Objects are made read-only. A crash leaves at most a stray temp file, which gc sweeps.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

from cairn.errors import CorruptObjectError, ObjectMissingError, PathError, PermissionDeniedError
from cairn.objects.hashing import CHUNK, SMALL_FILE, hash_chunks, hash_file, read_small
from cairn.objects.newfile import NewFile, space_checked, unique_name

_READONLY = 0o444


def copy_hashing(src: str, fd: int) -> str:
    """Copy `src` to `fd` and return its id, reading the file from disk once.

    The kernel copies (copy_file_range, no user-space copy, as `cp` does) while a second thread
    hashes the same bytes from the page cache, so a large add runs at `cp` speed. A file changed
    meanwhile could make copy and hash disagree: its inode, size and mtime are compared before
    and after, and a change is refused. Where the kernel cannot copy, one user-space pass hashes
    each chunk on a second thread while the previous one is written."""
    from concurrent.futures import ThreadPoolExecutor

    with open(src, "rb", buffering=0) as f, ThreadPoolExecutor(1, thread_name_prefix="cairn-b3") as pool:
        before = os.fstat(f.fileno())
        hashed = pool.submit(hash_chunks, src)  # one BLAKE3 thread: the other core is busy copying
        try:
            offset = 0
            while n := os.copy_file_range(f.fileno(), fd, CHUNK * 8, offset, offset):
                offset += n
        except OSError as e:
            if e.errno not in _NO_KERNEL_COPY:
                raise
            hashed.result()
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            return _copy_hashing_userspace(f, fd, pool)
        oid = hashed.result()
    after = os.stat(src)
    if (after.st_ino, after.st_size, after.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
        raise PathError(
            f"{src} changed while cairn was adding it",
            "wait until whatever writes it has finished, then run the command again",
        )
    return oid


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def _copy_hashing_userspace(f, fd: int, pool) -> str:
    h = blake3()
    bufs = [bytearray(CHUNK) for _ in range(3)]
    futures: list = []
    i = 0
    while True:
        if i >= len(bufs):
            futures[i - len(bufs)].result()  # that buffer's hash is done: reuse it
        buf = bufs[i % len(bufs)]
        n = f.readinto(buf)
        if not n:
            break
        chunk = memoryview(buf)[:n]
        futures.append(pool.submit(h.update, chunk))
        while chunk:
            chunk = chunk[os.write(fd, chunk) :]
        i += 1
    for fut in futures[-len(bufs) :]:
        fut.result()
    return h.hexdigest()


class ObjectStore:
    """Objects on the local file system, addressed by BLAKE3 hex id."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self._objects = str(self.objects)
        self._tmp = str(self.tmp)
        self._ready = False

    # -- layout -------------------------------------------------------------------------
    def path(self, oid: str) -> str:
        return f"{self._objects}/{oid[:2]}/{oid[2:]}"

    def prepare(self) -> None:
        """Create the fan-out directories once, so writers never have to."""
        if self._ready:
            return
        if os.path.isdir(f"{self._objects}/ff") and os.path.isdir(self._tmp):
            self._ready = True  # made by an earlier run: skip 257 mkdir calls
            return
        try:
            with space_checked(str(self.root)):
                os.makedirs(self._tmp, exist_ok=True)
                for i in range(256):
                    os.makedirs(f"{self._objects}/{i:02x}", exist_ok=True)
        except PermissionError as e:
            raise PermissionDeniedError(
                f"cannot write to the cache at {self.root}: {e.strerror}",
                "check the permissions of the cache folder (cache.dir in .cairn/config.toml)",
            ) from e
        self._ready = True

    def tmp_path(self, hint: str = "obj") -> str:
        self.prepare()
        return f"{self._tmp}/{hint}.{unique_name()}"

    # -- queries ------------------------------------------------------------------------
    def exists(self, oid: str) -> bool:
        return os.path.exists(self.path(oid))

    def size(self, oid: str) -> int:
        return os.stat(self.path(oid)).st_size

    def iter_oids(self) -> Iterator[str]:
        try:
            fans = os.scandir(self._objects)
        except FileNotFoundError:
            return
        with fans:
            for fan in fans:
                if len(fan.name) != 2 or not fan.is_dir():
                    continue
                with os.scandir(fan.path) as it:
                    for e in it:
                        yield fan.name + e.name

    # -- reading ------------------------------------------------------------------------
    def read(self, oid: str) -> bytes:
        try:
            with open(self.path(oid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise _missing(oid) from None

    def read_verified(self, oid: str) -> bytes:
        data = self.read(oid)
        if blake3(data).hexdigest() != oid:
            raise _corrupt(oid)
        return data

    def open_verified(self, oid: str) -> BinaryIO:
        """The object's file, open for reading, once its bytes were checked against its id (read
        in chunks: a large object never sits in memory whole)."""
        try:
            f = open(self.path(oid), "rb")  # noqa: SIM115 - returned open to the caller
        except FileNotFoundError:
            raise _missing(oid) from None
        try:
            if hash_file(self.path(oid)) != oid:
                raise _corrupt(oid)
        except BaseException:
            f.close()
            raise
        return f

    def verify(self, oid: str) -> bool:
        return hash_file(self.path(oid)) == oid

    # -- writing ------------------------------------------------------------------------
    def publish(self, tmp: str, oid: str) -> None:
        """Move a finished temp file into place; an existing object is left untouched."""
        dst = self.path(oid)
        if os.path.exists(dst):
            os.unlink(tmp)
            return
        os.replace(tmp, dst)

    def add_bytes(self, data: bytes, oid: str | None = None) -> str:
        oid = oid or blake3(data).hexdigest()
        if not os.path.exists(self.path(oid)):
            self.add_absent(data, oid)
        return oid

    def add_absent(self, data: bytes | memoryview, oid: str) -> None:
        """Store bytes already verified against `oid` for a caller that has just seen the object
        missing (a fetch): add_bytes without the existence check (an object that appeared
        meanwhile is left as it is)."""
        self.prepare()
        f = NewFile(f"{self._objects}/{oid[:2]}", _READONLY, self.tmp_path)
        try:
            f.write(data)
        except BaseException:
            f.discard()
            raise
        f.publish(self.path(oid))

    def add_file_copy(self, src: str, size: int) -> str:
        """Hash `src` and copy it into the store in one read pass; returns its id."""
        if size <= SMALL_FILE:
            return self.add_bytes(read_small(src, size))
        self.prepare()
        f = NewFile(self._objects, _READONLY, self.tmp_path)
        try:
            with space_checked(self._objects):
                oid = copy_hashing(src, f.fd)
        except BaseException:
            f.discard()
            raise
        f.publish(self.path(oid))
        return oid

    def add_file_link(self, src: str, oid: str) -> bool:
        """Make the already-hashed file `src` the object itself via a hard link.

        Returns False when the file system cannot hard-link (the caller falls back)."""
        dst = self.path(oid)
        if os.path.exists(dst):
            return True
        tmp = self.tmp_path()
        try:
            os.link(src, tmp)
        except OSError as e:
            if e.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                return False
            raise
        os.chmod(tmp, _READONLY)
        self.publish(tmp, oid)
        return True

    def remove(self, oid: str) -> None:
        try:
            os.unlink(self.path(oid))
        except FileNotFoundError:
            pass

    def sweep_tmp(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by killed writers; only old ones, live writers may own new ones."""
        import time

        cutoff = time.time() - older_than_s
        removed = 0
        try:
            it = os.scandir(self._tmp)
        except FileNotFoundError:
            return 0
        with it:
            for e in it:
                try:
                    if e.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(e.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed


def _corrupt(oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"cache object {oid} is corrupt (its content no longer matches its id)",
        "run `cairn fsck` to list damaged objects, remove them, then `cairn pull` again",
    )


def _missing(oid: str) -> ObjectMissingError:
    return ObjectMissingError(
        f"object {oid} is not in the cache", "run `cairn pull` to fetch it from the remote", [oid]
    )
