"""The write-once object store: `<root>/objects/<2 hex>/<62 hex>`.

Objects are written to `<root>/tmp` and renamed into place, so a reader never sees a partial
object and several processes can write the same object at once (both renames carry the same
bytes). Objects are made read-only. A crash leaves at most a stray temp file, which gc sweeps.
"""

from __future__ import annotations

import errno
import os
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

from cairn.errors import CairnError, CorruptObjectError, ObjectMissingError, PathError, PermissionDeniedError
from cairn.objects import chunks as chunking
from cairn.objects.hashing import CHUNK, SMALL_FILE, hash_chunks, hash_file, read_small
from cairn.objects.localpacks import PACK_TARGET, SMALL_PACKED, LocalPacks, Location, PackWriter, columns, runs
from cairn.objects.newfile import NewFile, space_checked, unique_name

_READONLY = 0o444
_LIST_AT = 16  # ids wanted from one fan-out folder from which listing it beats a stat per id
# ids located at once by `read_plan`: neighbours in the multi-pack index, so each slice is one
# pass over its rows between them (or a search per id when the slice is sparse)
_PLAN_STEP = 4096

# an object placed for reading: id, size (as stored, when packed), number of its pack in the
# plan's pack ids (-1: not packed), offset in that pack
Placed = tuple[str, int, int, int]


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
    """Objects on the local file system, addressed by BLAKE3 hex id. A large file may be held
    as chunks instead (objects/chunks.py), and an object (a chunk, or a small file added while
    `packing`) may be packed (objects/localpacks.py): `exists`, `size`, `read*` and `verify` see every form; `path` is
    only ever the loose object's."""

    def __init__(
        self, root: str | os.PathLike[str], chunking_: chunking.Chunking | None = None, pack_target: int = PACK_TARGET
    ) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.chunking = chunking_ or chunking.Chunking()
        self._lists = str(self.root / "chunks")
        self.tmp = self.root / "tmp"
        self._objects = str(self.objects)
        self._tmp = str(self.tmp)
        self.packs = LocalPacks(str(self.root / "packs"), self.tmp_path, max(1, pack_target))
        self._ready = False
        # the fan-out folders were made by this process: no object can be there from before, so
        # writers skip the existence check (a concurrent writer of the same object is still fine:
        # linking onto an existing name fails and leaves it as it is)
        self._fresh = False
        self._packer: PackWriter | None = None  # set while `packing`
        self._adopted = False  # packs sealed by helper processes were registered while `packing`

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
                os.makedirs(self._objects, exist_ok=True)
                made = 0
                for i in range(256):
                    try:
                        os.mkdir(f"{self._objects}/{i:02x}")  # one call (makedirs: a stat too)
                        made += 1
                    except FileExistsError:
                        pass
                self._fresh = made == 256
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
        return self.has_object(oid) or os.path.exists(self.list_path(oid))

    def has_object(self, oid: str) -> bool:
        """Whether the object itself is here, loose or packed (not as a chunk list)."""
        # loose first: trees are always loose, and `status` asks only about trees, so it never
        # reads the pack indexes
        if os.path.exists(self.path(oid)):
            return True
        packer = self._packer
        return (packer is not None and oid in packer) or self.packs.has(oid)

    @contextmanager
    def packing(self) -> Iterator[None]:
        """Small files stored by `add_file_copy` meanwhile go into local packs (one writer,
        shared by the hashing threads), sealed when the block ends; an error or a kill leaves
        only sealed packs, each complete with its index (the open one is an unnamed file)."""
        self.prepare()
        writer = self.packs.writer(drop_behind=True)  # an add reads far more than its packs: keep those cached
        self._packer = writer
        self._adopted = False
        try:
            with writer:
                yield
        finally:
            self._packer = None
        if writer.sealed or self._adopted:
            self.packs.update_midx()
        self._adopted = False

    def seal_packs(self) -> None:
        """While `packing`: seal the pack being written now, so that every object stored so far
        is in a sealed pack (an add writes a tree only after its files are), and merge the packs
        sealed so far into the multi-pack index, which is used from then on instead of their rows
        held in memory (a million-file add: ~150 MB); packing goes on into a new pack."""
        if self._packer is not None:
            self._packer.close()
            if self._packer.sealed or self._adopted:
                self.packs.update_midx(reopen=True)

    # -- a split add (index/hashpending.py): helper processes store shares of its files --------
    def share_prepare(self) -> None:
        """Before the helpers fork: the multi-pack index is opened here, so the packs they seal
        join it when adopted (not left for the next lookup to find through every JSON index)."""
        self.prepare()
        self.packs.open_index()

    def share_begin(self) -> None:
        """In a helper: small files go into packs of its own (the writer the fork copied is the
        parent's: its open pack is the parent's file, never written or discarded here), and the
        packs it seals are listed for the parent, which alone writes the multi-pack index."""
        self.packs.keep_sealed()
        if self._packer is not None:
            self._packer = self.packs.writer(drop_behind=True)

    def share_end(self) -> list[tuple[str, bytes, bytes, bytes]]:
        """In a helper, after its share: its last pack sealed; (id, its rows as localpacks.columns,
        marshallable) of each pack it sealed. Everything else it stored (loose objects, chunk
        lists) is published where every process finds it."""
        if self._packer is not None:
            self._packer.close()
        out = []
        for pid, rows in self.packs.kept or []:
            ids, offsets, sizes = columns(rows)
            out.append((pid, ids, offsets.tobytes(), sizes.tobytes()))
        return out

    def share_adopt(self, packs: list[tuple[str, bytes, bytes, bytes]]) -> None:
        """Register a helper's packs (`share_end`): found from now on, and in the multi-pack index
        when `packing` ends (at once outside it: a link-mode add's chunked files)."""
        for pid, ids, offsets, sizes in packs:
            self.packs.adopt(pid, (ids, array("Q", offsets), array("Q", sizes)))
        if packs and self._packer is None:
            self.packs.update_midx()
        elif packs:
            self._adopted = True

    def missing(self, oids: Iterable[str]) -> list[str]:
        """The ids among `oids` that are not in the store, sorted. Many ids sharing fan-out folders
        are checked with one listing per folder instead of one stat per id (a 20k-file checkout:
        256 listings instead of 20,000 stats), unless the folder holds far more than is asked."""
        by_fan: dict[str, list[str]] = {}
        for oid in set(oids):
            by_fan.setdefault(oid[:2], []).append(oid)
        out: list[str] = []
        for fan, wanted in by_fan.items():
            folder = f"{self._objects}/{fan}"
            names = None
            if len(wanted) >= _LIST_AT:
                try:
                    # ~40 names per 4 KiB block of an ext4 folder: list only if that is not far more
                    if os.stat(folder).st_size // 100 <= 8 * len(wanted):
                        names = set(os.listdir(folder))
                except FileNotFoundError:
                    names = set()
            if names is None:
                out.extend(o for o in wanted if not os.path.exists(f"{folder}/{o[2:]}"))
            else:
                out.extend(o for o in wanted if o[2:] not in names)
        # a packed object, or a file held as chunks: its chunk list instead (docs/chunks.md)
        packed = self.packs.locate_many(out) if out else {}
        out = [o for o in out if o not in packed and not os.path.exists(self.list_path(o))]
        out.sort()
        return out

    def size(self, oid: str) -> int:
        try:
            return os.stat(self.path(oid)).st_size
        except FileNotFoundError:
            loc = self.packs.locate(oid)
            if loc is not None:
                return loc[2]
            cl = self.chunk_list(oid)
            if cl is None:
                raise
            return cl.size

    # -- chunked files ------------------------------------------------------------------
    def list_path(self, oid: str) -> str:
        return f"{self._lists}/{oid[:2]}/{oid[2:]}"

    def chunk_list(self, oid: str) -> chunking.ChunkList | None:
        """The chunk list of a file held as chunks; None when it is not (loose or absent)."""
        try:
            with open(self.list_path(oid), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return chunking.decode(data, oid)

    def is_chunked(self, oid: str) -> bool:
        return not os.path.exists(self.path(oid)) and os.path.exists(self.list_path(oid))

    def write_list(self, cl: chunking.ChunkList) -> None:
        """Record a chunk list once all its chunks are stored (atomically: a killed add leaves
        chunks, which gc sweeps, and no list)."""
        self.add_list_bytes(cl.oid, cl.encode())

    def add_list_bytes(self, oid: str, data: bytes) -> None:
        self.prepare()
        folder = f"{self._lists}/{oid[:2]}"
        os.makedirs(folder, exist_ok=True)
        f = NewFile(folder, _READONLY, self.tmp_path)
        try:
            f.write(data)
        except BaseException:
            f.discard()
            raise
        f.publish(self.list_path(oid))

    def iter_chunked(self) -> Iterator[str]:
        """Ids of the files held as chunks."""
        return (oid for oid in _fanned(self._lists) if len(oid) == 64)

    def verify_object(self, oid: str) -> bool:
        """Whether the object itself (loose or packed; not a chunk list) is here and intact."""
        try:
            return hash_file(self.path(oid)) == oid
        except FileNotFoundError:
            try:
                return self.packs.verify(oid)
            except FileNotFoundError:
                return False

    def read_stored(self, oid: str, size: int) -> bytes:
        """The bytes of a small object (loose or packed) as stored, unchecked; FileNotFoundError
        when it is in neither form."""
        try:
            return read_small(self.path(oid), size)
        except FileNotFoundError:
            data = self.packs.read(oid)
            if data is None:
                raise
            return data

    def read_plan(self, objects: list[tuple[str, int]]) -> tuple[list[Placed], list[str]]:
        """`objects` ((id, size) pairs, in any order) in the order that reads them fastest: the
        packed ones by pack and offset, then the rest as given; with the ids of the packs that
        the entries number. A push groups them in this order, so that each of its packs is read
        from a stretch of one local pack instead of from every pack: ids are random, so a
        group of neighbouring ids held a few objects of each local pack, and reading them by
        runs read most of every local pack once per group (issue 22: at 200k files, 11.5 s of
        a push's 14.4 s of CPU was the kernel copying page cache)."""
        pids: dict[str, int] = {}
        by_pack: list[list[Placed]] = []  # one list per pack: sorted by offset each, not all by (pack, offset)

        def place(oid: str, pid: str, off: int, size: int) -> None:
            n = pids.get(pid)
            if n is None:
                n = pids[pid] = len(by_pack)
                by_pack.append([])
            # the size its pack holds (a tree's entry may say otherwise: a file that grew while
            # it was added; the bytes stored are what its id names)
            by_pack[n].append((oid, size, n, off))

        if len(objects) * 4 >= self.packs.count():
            # most of what the cache packs (a first push): one pass over the packed objects in
            # id order, no sort of a million ids (at 1M: 0.5 s, and the sorted ids' slices
            # located in the multi-pack index 1.8 s)
            left = dict(objects)
            for pid, oid, off, size in self.packs.listing():
                if left.pop(oid, None) is not None:
                    place(oid, pid, off, size)
            rest = [(o, n, -1, 0) for o, n in objects if o in left]
        else:
            rest = []
            ordered = sorted(objects, key=itemgetter(0))  # neighbouring ids: one pass each slice
            for i in range(0, len(ordered), _PLAN_STEP):
                part = ordered[i : i + _PLAN_STEP]
                where = self.packs.locate_many(o for o, _ in part)
                for oid, size in part:
                    loc = where.get(oid)
                    if loc is None:
                        rest.append((oid, size, -1, 0))
                    else:
                        place(oid, *loc)
            known = {r[0] for r in rest}
            rest = [(o, n, -1, 0) for o, n in objects if o in known]  # in the order given
        placed: list[Placed] = []
        for group in by_pack:
            group.sort(key=itemgetter(3))
            placed += group
        placed += rest
        return placed, list(pids)

    def iter_stored(
        self, objects: list[tuple[str, int]], where: dict[str, Location] | None = None
    ) -> Iterator[tuple[str, bytes | memoryview]]:
        """(id, bytes as stored, unchecked) of those of `objects` ((id, size) pairs) that are here:
        packed ones by runs of each pack in offset order (a push of a million small objects
        reads each pack a few MiB at a time instead of opening it once per object). `where`,
        when given, is where the packed ones are (`read_plan`): the others are read loose. A
        packed object's bytes are a view of its run's buffer, valid until the next is yielded
        from another run."""
        if where is None:
            where = self.packs.locate_many(o for o, _ in objects)
        for oid, size in objects:
            if oid not in where:
                try:
                    yield oid, self.read_stored(oid, size)
                except FileNotFoundError:
                    continue
        for run in runs(where.items()):
            pid, start = run[0][1][0], run[0][1][1]
            end = max(off + size for _, (_, off, size) in run)
            try:
                fd = os.open(self.packs.pack_path(pid), os.O_RDONLY)
            except FileNotFoundError:  # rewritten by a gc meanwhile: wherever it put them
                for oid, (_, _, size) in run:
                    try:
                        yield oid, self.read_stored(oid, size)
                    except FileNotFoundError:
                        continue
                continue
            try:
                data = memoryview(os.pread(fd, end - start, start))
            finally:
                os.close(fd)
            for oid, (_, off, size) in run:
                yield oid, data[off - start : off - start + size]

    def file_of(self, oid: str) -> str | None:
        """A file holding the object's bytes, for readers that need a path (datastats): the loose
        object, made from its packed copy (verified) when it is only packed; None when neither."""
        path = self.path(oid)
        if os.path.exists(path):
            return path
        data = self.packs.read(oid)
        if data is None or blake3(data).hexdigest() != oid:
            return None
        self.add_absent(data, oid)
        return path

    def iter_packed(self) -> Iterator[str]:
        return self.packs.oids()

    def assemble_to(self, cl: chunking.ChunkList, fd: int, name: str) -> None:
        chunking.copy_into(self, cl, fd, name)

    def iter_oids(self) -> Iterator[str]:
        return _fanned(self._objects)

    # -- reading ------------------------------------------------------------------------
    def read(self, oid: str) -> bytes:
        try:
            with open(self.path(oid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            data = self.packs.read(oid)
            if data is not None:
                return data
            cl = self.chunk_list(oid)
            if cl is None:
                raise _missing(oid) from None
        parts: list[bytes] = []
        chunking.assemble(self, cl, lambda d: parts.append(bytes(d)), oid)  # checked on the way
        return b"".join(parts)

    def read_verified(self, oid: str) -> bytes:
        if self.is_chunked(oid):
            return self.read(oid)
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
            import io

            if self.packs.has(oid):
                return io.BytesIO(self.read_verified(oid))  # packed objects are small
            cl = self.chunk_list(oid)
            if cl is None:
                raise _missing(oid) from None
            chunking.assemble(self, cl, lambda d: None, oid)  # the whole file checked first
            return io.BufferedReader(chunking.ChunkReader(self, cl), 1024 * 1024)
        try:
            if hash_file(self.path(oid)) != oid:
                raise _corrupt(oid)
        except BaseException:
            f.close()
            raise
        return f

    def verify(self, oid: str) -> bool:
        """Whether the object's bytes match its id; for a file held as chunks, whether its
        chunks rebuild it (raises FileNotFoundError when it is in neither form)."""
        try:
            return hash_file(self.path(oid)) == oid
        except FileNotFoundError:
            if self.packs.has(oid):
                return self.packs.verify(oid)
            cl = self.chunk_list(oid)
            if cl is None:
                raise
        try:
            chunking.assemble(self, cl, lambda d: None, oid)
        except CairnError:
            return False
        return True

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

    def add_file_copy(self, src: str, size: int, chunk: bool = True) -> str:
        """Hash `src` and copy it into the store in one read pass; returns its id. A file of
        `chunking.min_size` or more is stored as chunks (only the chunks not yet here), unless
        `chunk` is false (link modes keep files whole to share them with the workspace)."""
        if chunk and self.chunking.applies(size):
            self.prepare()
            with space_checked(self._objects):
                cl = chunking.split_into(self, src)
                if not self.exists(cl.oid):
                    self.write_list(cl)
            return cl.oid
        packer = self._packer
        if packer is not None and size < SMALL_PACKED:
            data = read_small(src, size)
            oid = blake3(data).hexdigest()
            loose = not self._fresh and os.path.exists(self.path(oid))
            if oid not in packer and not loose and not self.packs.has(oid):
                packer.add(oid, data)  # a full disk: NewFile raises DiskFullError
            return oid
        if size <= SMALL_FILE:
            data = read_small(src, size)
            oid = blake3(data).hexdigest()
            if self._fresh or not os.path.exists(self.path(oid)):
                self.add_absent(data, oid)
            return oid
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
        """Remove a loose object or a chunk list (packed objects go with `drop_packed`), or a
        local pack whose index is damaged, named by its id."""
        for path in (self.path(oid), self.list_path(oid)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if oid in self.packs.damaged:
            self.packs.drop(oid)
            self.packs.reindex()
            self.packs.update_midx()

    def drop_packed(self, oids: set[str], only: Iterable[str] | None = None) -> int:
        """Take `oids` out of the local packs (those of `only`, else every pack holding one):
        each such pack is rewritten without them, or removed when nothing is left. The bytes
        freed."""
        packs = self.packs.pack_ids() if only is None else list(only)
        freed = 0
        changed = False
        for pid in packs:
            if any(o in oids for o, _, _ in self.packs.rows(pid)):
                freed += self.packs.rewrite(pid, oids)
                changed = True
        self.packs.reindex()
        if changed:
            self.packs.update_midx()
        return freed

    def sweep_orphan_packs(self, older_than_s: float = 3600.0) -> int:
        """Remove packs without an index left by killed writers (only old ones: a live writer
        links its pack a moment before its index)."""
        import time

        cutoff = time.time() - older_than_s
        removed = 0
        for pid in self.packs.orphans():
            try:
                if os.stat(self.packs.pack_path(pid)).st_mtime < cutoff:
                    os.unlink(self.packs.pack_path(pid))
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

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


def _fanned(root: str) -> Iterator[str]:
    """The names under the two-hex fan-out folders of `root`, each with its folder's prefix."""
    try:
        fans = os.scandir(root)
    except FileNotFoundError:
        return
    with fans:
        for fan in fans:
            if len(fan.name) != 2 or not fan.is_dir():
                continue
            with os.scandir(fan.path) as it:
                for e in it:
                    yield fan.name + e.name
