"""BLAKE3 ids of raw bytes, so any object can be checked with an independent tool (b3sum)."""

from __future__ import annotations

import os

from blake3 import blake3

OID_LEN = 64
# Files up to this size are read in one call; larger ones stream in chunks of this size.
SMALL_FILE = 4 * 1024 * 1024
CHUNK = 8 * 1024 * 1024
# Bytes mapped at once by hash_mapped: the mapping's pages count as resident only while mapped.
WINDOW = 16 * 1024 * 1024
# BLAKE3's threads for one big file: a pool of this many that ends with its hasher. blake3.AUTO
# would start rayon's global pool, whose threads live as long as the process, and a process with
# other threads never forks helpers (index/forked.py): a repro's second stage, or any later add
# in the same process, would never split. A pool costs ~0.4 ms, on files of 4 MiB or more.
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def hash_bytes(data: bytes) -> str:
    return blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Hash a file's bytes. Large files are read in chunks (bounded memory; mmap would count the
    whole file as resident) and hashed with BLAKE3's own threads."""
    size = os.stat(path).st_size
    if size <= SMALL_FILE:
        return blake3(read_small(path, size)).hexdigest()
    return hash_chunks(path, THREADS)


def hash_chunks(path: str | os.PathLike[str], max_threads: int = 1) -> str:
    """Hash a file read in CHUNK-sized pieces, with up to `max_threads` BLAKE3 threads."""
    h = blake3(max_threads=max_threads)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def hash_mapped(path: str | os.PathLike[str], max_threads: int = THREADS) -> str:
    """hash_file through a memory map, one window at a time: BLAKE3's threads read the page cache
    in place instead of this thread first copying every byte into a buffer (about a third of the
    CPU of hashing a 2 GiB file, and not overlapped with the hashing). A file cut short while
    mapped ends the process with SIGBUS, so this is for cache objects (never truncated) and for
    files a link-mode add is about to make cache objects (a file changing under that add would
    become a corrupt object; ending the add is the better outcome). status and copy-mode add,
    reading files a user may be rewriting, keep hash_file."""
    size = os.stat(path).st_size
    if size <= SMALL_FILE:
        return blake3(read_small(path, size)).hexdigest()
    import mmap  # here: every command imports this module, few hash big files

    h = blake3(max_threads=max_threads)
    fd = os.open(path, os.O_RDONLY)
    try:
        off = 0
        while off < (size := os.fstat(fd).st_size):  # grown meanwhile: all of it, as a read would
            n = min(WINDOW, size - off)
            try:
                window = mmap.mmap(fd, n, access=mmap.ACCESS_READ, offset=off)
            except OSError:  # a file system that cannot map files (some FUSE and network ones)
                return hash_file(path)
            with window:
                window.madvise(mmap.MADV_WILLNEED)  # read ahead when it is not in the page cache
                h.update(window)
            off += n
    finally:
        os.close(fd)
    return h.hexdigest()


def read_small(path: str | os.PathLike[str], size: int) -> bytes:
    """The whole file in as few system calls as possible (a buffered open() costs ~8)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, size + 1)  # one byte more: notice a file that grew since its stat
        if len(data) > size:
            parts = [data]
            while chunk := os.read(fd, CHUNK):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


_HEX = frozenset("0123456789abcdef")


def is_oid(value: object) -> bool:
    """Exactly 64 lowercase hex digits (int(x, 16) would also take '0x', '_', signs, spaces)."""
    return isinstance(value, str) and len(value) == OID_LEN and _HEX.issuperset(value)
