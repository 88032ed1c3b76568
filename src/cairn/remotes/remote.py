"""A remote object store: a Storage laid out as

    cairn-remote.json          {"version": 1, "generation": "<hex>"}: the layout, refused when
                               unknown; the generation changes whenever cairn deletes anything
    packs/<id>.pack            small objects, concatenated
    packs/<id>.idx             which objects a pack holds, at which offsets
    objects/<2 hex>/<62 hex>   large objects, stored as they are (checkable with b3sum)
    objects/<2 hex>/<62 hex>.chunks  chunk lists of files held as chunks (docs/chunks.md),
                               named by the file's id, written after all their chunks; beside
                               the loose objects, so the one listing of objects/ finds them
    runs/<key>.json            shared run-cache entries (push --run-cache)

plus a local index of what it holds (`RemoteIndex`), refreshed by listing `packs/` and
`objects/`: a few requests however many objects there are.

Memory stays bounded: packs are built in a temporary file and uploaded from it, and downloads
are range requests of at most PIECE bytes, so no pack ever sits in memory whole."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from blake3 import blake3

from cairn.errors import CairnError, CorruptObjectError, RemoteError, RemoteKeyMissingError, shown
from cairn.objects import chunks, pack
from cairn.objects.hashing import THREADS, hash_file, hash_mapped
from cairn.objects.localpacks import Location
from cairn.objects.store import ObjectStore
from cairn.remotes.index import RemoteIndex
from cairn.storage.base import Storage

LAYOUT_KEY = "cairn-remote.json"
LAYOUT_VERSION = 1
# The most bytes one download request brings into memory (objects are never split).
PIECE = 2 * 1024 * 1024
# Bytes between two wanted objects of a pack that are read and dropped rather than paid for
# with another request.
GAP = 256 * 1024
_WRITE_AT = 1024 * 1024
_INDEX_WINDOW = 32  # remote pack indexes read before their rows are written to the local index


def loose_key(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:]}"


LIST_SUFFIX = ".chunks"


def list_key(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:]}{LIST_SUFFIX}"


def pack_key(pack_id: str, ext: str) -> str:
    return f"packs/{pack_id}.{ext}"


def new_generation() -> str:
    import secrets  # hmac and OpenSSL: only a push or gc makes a generation, not every read

    return secrets.token_hex(16)


@dataclass
class Listing:
    """What the last refresh saw besides the indexed packs and loose objects."""

    orphans: list[tuple[str, int, float | None]] = field(default_factory=list)  # packs without an index
    stale_indexes: list[str] = field(default_factory=list)  # indexes whose pack is gone
    damaged: list[str] = field(default_factory=list)  # indexes that cannot be read (tolerant refresh)
    # when each indexed pack and each loose object was written (None: the backend cannot tell)
    written: dict[str, float | None] = field(default_factory=dict)


class Remote:
    def __init__(
        self, name: str, storage: Storage, index_path: Path, jobs: int, pack_target: int = pack.PACK_TARGET
    ) -> None:
        self.name = name
        self.storage = storage
        self.index = RemoteIndex(index_path)
        self.jobs = max(1, jobs)
        self.pack_target = pack_target
        self.listing = Listing()
        self.chunk_lists: set[str] = set()  # files held as chunks here (listed by refresh)
        self._fresh = False

    def close(self) -> None:
        self.index.close()
        self.storage.close()

    # -- layout and generation ---------------------------------------------------------------
    def _layout(self, create: bool) -> dict | None:
        """The layout document; None when the remote has never been written to (made when
        `create`). Refuses unknown layouts."""
        try:
            doc = json.loads(self.storage.get_bytes(LAYOUT_KEY))
        except RemoteKeyMissingError:
            if not create:
                return None
            self.storage.check()
            doc = {"version": LAYOUT_VERSION, "generation": new_generation()}
            self.storage.put_bytes(LAYOUT_KEY, json.dumps(doc).encode())
            return doc
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise _damaged_layout(self.storage.url) from None
        if not isinstance(doc, dict):
            raise _damaged_layout(self.storage.url)
        version = doc.get("version")
        if type(version) is not int or version != LAYOUT_VERSION:
            raise RemoteError(
                f"remote {self.name!r} has layout version {shown(version)}; this cairn reads {LAYOUT_VERSION}",
                "upgrade cairn",
            )
        if create and not isinstance(doc.get("generation"), str):
            # written by a cairn that kept no generation: give it one, so clones can trust their index
            doc = {"version": LAYOUT_VERSION, "generation": new_generation()}
            self.storage.put_bytes(LAYOUT_KEY, json.dumps(doc).encode())
        return doc

    def prepare(self) -> None:
        """Make the remote's layout file when it has none (the first push), checking that the
        storage exists; refuses unknown layouts."""
        self._layout(create=True)

    def bump_generation(self) -> None:
        """Tell every clone that something is about to be (or was) deleted: their indexes stop
        being trusted until they list the remote again."""
        if self._layout(create=False) is None:  # refuses unknown layouts before writing anything
            return
        doc = {"version": LAYOUT_VERSION, "generation": new_generation()}
        self.storage.put_bytes(LAYOUT_KEY, json.dumps(doc).encode())

    def unchanged(self) -> bool:
        """True when the remote's generation is the one the local index was refreshed at, so
        nothing was deleted since. One small read (`Storage.peek`), no listing."""
        known = self.index.generation()
        if not known:
            return False
        try:
            doc = json.loads(self.storage.peek(LAYOUT_KEY))
        except (CairnError, ValueError, RecursionError):
            return False  # the full path reports whatever is wrong
        return isinstance(doc, dict) and doc.get("version") == LAYOUT_VERSION and doc.get("generation") == known

    # -- what the remote holds ---------------------------------------------------------------
    def refresh(self, create: bool = False, tolerant: bool = False, rescan: bool = False) -> None:
        """Bring the local index up to date with what the remote holds: list packs/ and
        objects/, read the indexes not seen before (every index with `rescan`). `tolerant`
        collects damaged indexes in `self.listing` instead of failing (gc removes them)."""
        if self._fresh and not rescan:
            return
        doc = self._layout(create)
        if doc is None:
            self.index.clear()
            self.listing = Listing()
            self._fresh = True
            return
        damaged = self.index.damaged() if rescan else {}
        if rescan:
            self.index.clear()
        packs: dict[str, tuple[int, float | None]] = {}
        indexes: set[str] = set()
        for key, size, mtime in self.storage.scan("packs"):
            name = key[len("packs/") :]
            if name.endswith(".pack"):
                packs[name[: -len(".pack")]] = (size, mtime)
            elif name.endswith(".idx"):
                indexes.add(name[: -len(".idx")])
        # an index whose pack is gone describes nothing: its objects are lost (push sends them again)
        on_remote = indexes & set(packs)
        known = self.index.packs()
        self.index.drop_packs(set(known) - on_remote)
        listing = Listing(
            orphans=sorted((p, s, t) for p, (s, t) in packs.items() if p not in indexes),
            stale_indexes=sorted(indexes - set(packs)),
        )
        new = sorted(on_remote - set(known))
        if new:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="cairn-idx") as pool:
                # a window of indexes read, then written while no read runs (a row written
                # meanwhile waits for the GIL); never every row of the remote in memory at once
                # (a first fetch of a million objects held ~250 MB of row tuples)
                for at in range(0, len(new), _INDEX_WINDOW):
                    window = new[at : at + _INDEX_WINDOW]
                    found: list[tuple[str, int, list[pack.IndexRow]]] = []
                    for pack_id, rows in zip(window, pool.map(self._read_index, window), strict=True):
                        if not isinstance(rows, CorruptObjectError):
                            rows = _within(pack_id, rows, packs[pack_id][0])
                        if isinstance(rows, CorruptObjectError):
                            if not tolerant:
                                raise rows
                            listing.damaged.append(pack_id)
                            continue
                        found.append((pack_id, packs[pack_id][0], rows))
                    self.index.add_sent(found, [])
                    del found
        loose = {}
        lists: set[str] = set()
        for key, size, mtime in self.storage.scan("objects"):
            parts = key.split("/")
            if len(parts) == 3 and len(parts[1]) == 2:
                if parts[2].endswith(LIST_SUFFIX):
                    lists.add(parts[1] + parts[2][: -len(LIST_SUFFIX)])
                    continue
                loose[parts[1] + parts[2]] = size
                listing.written[parts[1] + parts[2]] = mtime
        listing.written.update((p, packs[p][1]) for p in on_remote)
        self.index.set_loose(loose)
        self.chunk_lists = lists
        self.index.restore_damaged(damaged)
        self.index.set_generation(doc.get("generation") if isinstance(doc.get("generation"), str) else None)
        self.listing = listing
        self._fresh = True

    def _read_index(self, pack_id: str) -> list[pack.IndexRow] | CorruptObjectError:
        key = pack_key(pack_id, "idx")
        try:
            named, rows = pack.parse_index(self.storage.get_bytes(key), key)
        except CorruptObjectError as e:
            return e
        if named != pack_id:
            return CorruptObjectError(
                f"pack index {key} on the remote is damaged (it describes pack {named})",
                "run `cairn gc --remote NAME --yes` to drop it; the objects will be pushed again",
            )
        return rows

    # -- writing -----------------------------------------------------------------------------
    # A damaged cache object must never reach the remote: there it would pass for a good copy
    # (push skips what the remote lists), so objects are checked against their ids on the way out.
    def upload_pack(
        self, store: ObjectStore, objects: list[tuple[str, int]], where: dict[str, Location] | None = None
    ) -> tuple[str, int, list[pack.IndexRow]] | None:
        """Pack cache objects ((oid, expected size) pairs), verified, into a new remote pack
        (`where`: where the packed ones are in the cache, when known). Objects the cache lacks
        are left out (the rows say what went in); None when it lacked them all."""
        with PackFile(store) as pf:
            for oid, data in store.iter_stored(objects, where):
                if blake3(data).hexdigest() != oid:
                    raise corrupt_cache(oid)
                pf.add(oid, data)
            if not pf.rows:
                return None
            return self.put_pack(pf)

    def put_pack(self, pf: PackFile) -> tuple[str, int, list[pack.IndexRow]]:
        """Upload a finished pack file, then its index: the pack first, so that an index on the
        remote always describes a complete pack."""
        pack_id, index = pf.finish()
        self.storage.put_file(pack_key(pack_id, "pack"), pf.path, consume=True)
        self.storage.put_bytes(pack_key(pack_id, "idx"), index)
        return pack_id, pf.size, pf.rows

    def upload_loose(self, store: ObjectStore, oid: str) -> int | None:
        """Upload one cache object as it is, verified; its size, or None when the cache lacks it."""
        path = store.path(oid)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return None

        # one BLAKE3 thread where the storage copies on the other core meanwhile; a cache
        # object is mapped, not copied to be read
        threads = 1 if self.storage.checks_while_copying else THREADS

        def check() -> None:
            if hash_mapped(path, threads) != oid:
                raise corrupt_cache(oid)

        self.storage.put_file(loose_key(oid), path, check=check)
        return size

    def upload_list(self, store: ObjectStore, oid: str) -> int:
        """Send the chunk list of a file held as chunks (after its chunks); its size."""
        cl = store.chunk_list(oid)
        if cl is None:
            return 0
        data = cl.encode()
        self.storage.put_bytes(list_key(oid), data)
        self.chunk_lists.add(oid)
        return len(data)

    # -- reading -----------------------------------------------------------------------------
    def read_list(self, oid: str) -> chunks.ChunkList:
        """The chunk list of a file the remote holds as chunks, checked as a format."""
        return chunks.decode(self.storage.get_bytes(list_key(oid)), oid)

    def _locate(self, oid: str) -> tuple[str | None, int, int]:
        self.refresh()
        loc = self.index.locate([oid]).get(oid)
        if loc is None:
            raise RemoteKeyMissingError(
                f"object {oid} is not on remote {self.name!r}", "push it from a clone that has it: `cairn push`"
            )
        return loc

    def read_object(self, oid: str) -> bytes:
        """One object's verified bytes, straight from the remote (a file held as chunks is
        rebuilt from them)."""
        if self._chunked(oid):
            return b"".join(bytes(d) for d in self._rebuilt(oid))
        return self._read_at(oid, self._locate(oid))

    def _chunked(self, oid: str) -> bool:
        self.refresh()
        return oid in self.chunk_lists and not self.index.locate([oid])

    def _rebuilt(self, oid: str):
        """The chunks of a file held as chunks, each verified, the whole checked at the end."""
        h = blake3()
        for coid, _n in self.read_list(oid).chunks:
            data = self._read_at(coid, self._locate(coid))
            h.update(data)
            yield data
        if h.hexdigest() != oid:
            raise corrupt_remote(self.name, oid)

    def _read_at(self, oid: str, loc: tuple[str | None, int, int]) -> bytes:
        pack_id, off, size = loc
        data = (
            self.storage.get_bytes(loose_key(oid))
            if pack_id is None
            else self.storage.get_bytes(pack_key(pack_id, "pack"), off, off + size)
        )
        if blake3(data).hexdigest() != oid:
            raise corrupt_remote(self.name, oid)
        return data

    def download_verified(self, oid: str, dest: str) -> None:
        """Write one object, verified, to the new file `dest` (removed again on any failure): a
        large loose object streams to disk, never whole in memory."""
        if self._chunked(oid):
            try:
                with open(dest, "xb") as f:
                    for data in self._rebuilt(oid):
                        f.write(data)
            except BaseException:
                if os.path.exists(dest):
                    os.unlink(dest)
                raise
            return
        loc = self._locate(oid)
        try:
            if loc[0] is None:
                self.storage.get_file(loose_key(oid), dest)
                if hash_file(dest) != oid:
                    raise corrupt_remote(self.name, oid)
            else:
                data = self._read_at(oid, loc)  # packed objects are small
                with open(dest, "xb") as f:
                    f.write(data)
        except BaseException:
            if os.path.exists(dest):
                os.unlink(dest)
            raise

    def read_piece(self, pack_id: str, piece: list[pack.IndexRow]):
        """Yield (oid, verified bytes or None when damaged) for the objects of one piece (one
        range request). Raises RemoteKeyMissingError when the pack is gone."""
        base, end = piece[0][1], piece[-1][1] + piece[-1][2]
        key = pack_key(pack_id, "pack")
        view = memoryview(self.storage.get_bytes(key, base, end))
        bad = {oid for oid, off, size in piece if not _intact(view[off - base : off - base + size], size, oid)}
        if bad:  # read once more before calling it damage: a proxy may have garbled this answer
            view = memoryview(self.storage.get_bytes(key, base, end))
            bad = {oid for oid, off, size in piece if not _intact(view[off - base : off - base + size], size, oid)}
        for oid, off, size in piece:
            yield oid, (None if oid in bad else view[off - base : off - base + size])

    def fetch_piece(
        self,
        store: Callable[[bytes | memoryview, str], None],
        pack_id: str,
        piece: list[pack.IndexRow],
        also: Callable[[str, memoryview], None] | None = None,
    ) -> tuple[int, list, list]:
        """Fetch, verify and store the objects of one piece (`store(data, oid)` keeps one, as
        ObjectStore.add_absent does); `also` gets each stored object too. Returns (bytes
        stored, corrupt oids, lost oids)."""
        stored, bad = 0, []
        try:
            for oid, data in self.read_piece(pack_id, piece):
                if data is None:
                    bad.append(oid)
                    continue
                store(data, oid)
                if also is not None:
                    also(oid, data)
                stored += len(data)
        except RemoteKeyMissingError:
            return stored, bad, [oid for oid, _, _ in piece]
        return stored, bad, []

    def check_loose(
        self, store: ObjectStore, oid: str, keep: bool, land: Callable[[str, str], None] | None = None
    ) -> tuple[int, list, list]:
        """Download a loose object to a temp file and verify it; with `keep` it goes into the
        cache, or to `land(temp path, oid)` when given (a fetch holds trees until their files
        are stored). Returns (bytes stored, corrupt oids, lost oids)."""
        tmp = store.tmp_path("fetch")
        try:
            try:
                self.storage.get_file(loose_key(oid), tmp)
            except RemoteKeyMissingError:
                return 0, [], [oid]
            if hash_file(tmp) != oid:
                return 0, [oid], []
            if not keep:
                return 0, [], []
            size = os.path.getsize(tmp)
            if land is not None:
                land(tmp, oid)
                return size, [], []
            os.chmod(tmp, 0o444)
            store.publish(tmp, oid)
            return size, [], []
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def fetch_loose(
        self, store: ObjectStore, oid: str, land: Callable[[str, str], None] | None = None
    ) -> tuple[int, list, list]:
        return self.check_loose(store, oid, keep=True, land=land)

    def rewrite_pack(self, store: ObjectStore, pack_id: str, keep: list[str]) -> tuple[str, int, list] | None:
        """A new pack holding the objects `keep` of pack `pack_id`, read piece by piece and
        verified (a damaged object is never carried into a new pack). None when nothing good
        was left to keep."""
        where = {o: (off, size) for o, off, size in self.index.pack_rows(pack_id)}
        rows = [(o, *where[o]) for o in keep if o in where]
        with PackFile(store) as pf:
            for piece in pieces(rows):
                try:
                    for oid, data in self.read_piece(pack_id, piece):
                        if data is not None:
                            pf.add(oid, data)
                except RemoteKeyMissingError:
                    break
            if not pf.rows:
                return None
            return self.put_pack(pf)

    def delete_pack(self, pack_id: str) -> None:
        # the index first: no index may ever point at a missing pack
        self.storage.delete(pack_key(pack_id, "idx"))
        self.storage.delete(pack_key(pack_id, "pack"))


class PackFile:
    """A pack being built in a temporary file of the cache (so it never sits in memory whole)
    from objects already verified. Use as a context manager: the file is removed at the end."""

    def __init__(self, store: ObjectStore) -> None:
        self.path = store.tmp_path("pack")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.rows: list[pack.IndexRow] = []
        self.size = 0
        self._buf = bytearray()  # small objects are written a MiB at a time, not one call each

    def add(self, oid: str, data: bytes | memoryview) -> None:
        n = len(data)
        self.rows.append((oid, self.size, n))
        self.size += n
        self._buf += data
        if len(self._buf) >= _WRITE_AT:
            self._flush()

    def _flush(self) -> None:
        view = memoryview(self._buf)
        while view:
            view = view[os.write(self._fd, view) :]
        view.release()
        self._buf.clear()

    def finish(self) -> tuple[str, bytes]:
        """Write what is buffered and close the file; the pack's id and index."""
        self._close(flush=True)
        # by id, as the index lists them: the remote's local index then takes each pack's rows in
        # key order (its packs hold objects in the cache's order since issue 22; 1M rows scattered
        # cost 4.5 s of CPU, sorted within each pack 3.6-3.8, all in order 3.0)
        self.rows.sort()
        return pack.index_of(self.rows)

    def _close(self, flush: bool) -> None:
        if self._fd >= 0:
            try:
                if flush:
                    self._flush()
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> PackFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close(flush=False)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _within(pack_id: str, rows: list[pack.IndexRow], size: int) -> list[pack.IndexRow] | CorruptObjectError:
    """The rows of an index, refused when one claims bytes beyond its pack's end: a crafted
    index must not make a reader allocate what the pack cannot hold."""
    for oid, off, n in rows:
        if off + n > size:
            return CorruptObjectError(
                f"pack index {pack_key(pack_id, 'idx')} on the remote is damaged (object {oid} ends at byte "
                f"{off + n}, beyond the pack's {size})",
                "run `cairn gc --remote NAME --yes` to drop it; the objects will be pushed again",
            )
    return rows


def _intact(data: memoryview, size: int, oid: str) -> bool:
    return len(data) == size and blake3(data).hexdigest() == oid


def pieces(rows: list[pack.IndexRow], limit: int = PIECE, gap: int = GAP) -> list[list[pack.IndexRow]]:
    """Objects of one pack grouped into range requests of at most `limit` bytes each (an object
    larger than that gets a request of its own), joining neighbours less than `gap` apart."""
    out: list[list[pack.IndexRow]] = []
    for row in sorted(rows, key=lambda r: r[1]):
        if out:
            run = out[-1]
            start, end = run[0][1], run[-1][1] + run[-1][2]
            if row[1] - end <= gap and row[1] + row[2] - start <= limit:
                run.append(row)
                continue
        out.append([row])
    return out


def _damaged_layout(url: str) -> RemoteError:
    return RemoteError(f"{url}/{LAYOUT_KEY} is damaged", 'restore it: {"version": 1}')


def corrupt_remote(name: str, oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"object {oid} on remote {name!r} is corrupt (its bytes do not match its id); it was not used",
        "in a clone that has a good copy, run `cairn push --verify`: it checks the remote's copies and replaces "
        "damaged ones",
    )


def corrupt_cache(oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"cache object {oid} is corrupt (its content no longer matches its id); nothing was pushed for it",
        "run `cairn fsck --delete-corrupt`, then restore the data (`cairn pull`, or `cairn add` it again) and push",
    )
