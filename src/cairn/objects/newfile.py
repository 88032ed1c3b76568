"""Files that appear at their final path complete or not at all.

On Linux an unnamed O_TMPFILE inode is written and then linked into place: a crash or a kill
leaves nothing behind, and there is no temp name to create and rename (about twice as fast for
many small files, measured on ext4). Where O_TMPFILE is not supported, a named temp file is
renamed into place instead."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable

_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)
_root_fd: int | None = None
_lock = threading.Lock()
_counter = iter(range(1 << 62))


def unique_name() -> str:
    """Unique within this machine: pid, thread and a counter."""
    with _lock:
        n = next(_counter)
    return f"{os.getpid()}-{threading.get_ident()}-{n}"


def _root() -> int:
    # linkat() follows /proc/self/fd/N only through a directory fd argument, not through link()
    global _root_fd
    if _root_fd is None:
        _root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    return _root_fd


class NewFile:
    """Write with `write()`, then `publish(dst)`; or `discard()`."""

    def __init__(self, directory: str, mode: int, fallback_tmp: Callable[[], str]) -> None:
        self.tmp: str | None = None
        self.fd = -1
        if hasattr(os, "O_TMPFILE"):
            try:
                self.fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, mode)
            except OSError as e:
                if e.errno not in _NO_TMPFILE:
                    raise
        if self.fd < 0:
            self.tmp = fallback_tmp()
            self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def publish(self, dst: str, replace: bool = False) -> bool:
        """Put the file at `dst`. Without `replace`, an existing `dst` wins (the same content,
        for content-addressed objects) and False is returned."""
        try:
            if self.tmp is not None:
                if not replace and os.path.exists(dst):
                    os.unlink(self.tmp)
                    return False
                _replace(self.tmp, dst)
                return True
            try:
                os.link(f"/proc/self/fd/{self.fd}", dst, src_dir_fd=_root(), follow_symlinks=True)
                return True
            except FileExistsError:
                if not replace:
                    return False
                side = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.cairn-{unique_name()}")
                os.link(f"/proc/self/fd/{self.fd}", side, src_dir_fd=_root(), follow_symlinks=True)
                _replace(side, dst)
                return True
        finally:
            self.close()

    def discard(self) -> None:
        self.close()
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _replace(src: str, dst: str) -> None:
    try:
        os.replace(src, dst)
    except IsADirectoryError:
        # a folder stands where the new version has a file (checkout decided to replace it)
        import shutil

        shutil.rmtree(dst)
        os.replace(src, dst)
