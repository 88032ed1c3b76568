"""A remote object store: a Storage laid out as

    cairn-remote.json          {"version": 1}: the layout, refused when unknown
    packs/<id>.pack            small objects, concatenated
    packs/<id>.idx             which objects a pack holds, at which offsets
    objects/<2 hex>/<62 hex>   large objects, stored as they are (checkable with b3sum)

plus a local index of what it holds (`RemoteIndex`), refreshed by listing `packs/` and
`objects/`: a few requests however many objects there are."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from blake3 import blake3

from cairn.errors import CorruptObjectError, RemoteError, RemoteKeyMissingError
from cairn.objects import pack
from cairn.objects.hashing import hash_file
from cairn.objects.store import ObjectStore
from cairn.remotes.index import RemoteIndex
from cairn.storage.base import Storage

LAYOUT_KEY = "cairn-remote.json"
LAYOUT_VERSION = 1


def loose_key(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:]}"


def pack_key(pack_id: str, ext: str) -> str:
    return f"packs/{pack_id}.{ext}"


class Remote:
    def __init__(
        self, name: str, storage: Storage, index_path: Path, jobs: int, pack_target: int = pack.PACK_TARGET
    ) -> None:
        self.name = name
        self.storage = storage
        self.index = RemoteIndex(index_path)
        self.jobs = max(1, jobs)
        self.pack_target = pack_target
        self._fresh = False

    def close(self) -> None:
        self.index.close()
        self.storage.close()

    # -- layout ------------------------------------------------------------------------------
    def _check_layout(self, create: bool) -> bool:
        """True when the remote has been written to before; refuses unknown layouts."""
        try:
            doc = json.loads(self.storage.get_bytes(LAYOUT_KEY))
        except RemoteKeyMissingError:
            if create:
                self.storage.check()
                self.storage.put_bytes(LAYOUT_KEY, json.dumps({"version": LAYOUT_VERSION}).encode())
            return False
        except ValueError:
            raise RemoteError(f"{self.storage.url}/{LAYOUT_KEY} is damaged", 'restore it: {"version": 1}') from None
        if doc.get("version") != LAYOUT_VERSION:
            raise RemoteError(
                f"remote {self.name!r} has layout version {doc.get('version')!r}; this cairn reads {LAYOUT_VERSION}",
                "upgrade cairn",
            )
        return True

    def refresh(self, create: bool = False) -> None:
        """Bring the local index up to date with what the remote holds."""
        if self._fresh:
            return
        if not self._check_layout(create):
            self.index.clear()
            self._fresh = True
            return
        listing = list(self.storage.list("packs"))
        sizes = {k[len("packs/") : -len(".pack")]: s for k, s in listing if k.endswith(".pack")}
        # an index whose pack is gone describes nothing: its objects are lost (push sends them again)
        on_remote = {k[len("packs/") : -len(".idx")] for k, _ in listing if k.endswith(".idx")} & set(sizes)
        known = self.index.packs()
        self.index.drop_packs(set(known) - on_remote)
        new = sorted(on_remote - set(known))
        if new:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="cairn-idx") as pool:
                for pack_id, (rows_pack, rows) in zip(new, pool.map(self._read_index, new), strict=True):
                    if rows_pack == pack_id:
                        self.index.add_pack(pack_id, sizes.get(pack_id, 0), rows)
        loose = {}
        for key, size in self.storage.list("objects"):
            parts = key.split("/")
            if len(parts) == 3 and len(parts[1]) == 2:
                loose[parts[1] + parts[2]] = size
        self.index.set_loose(loose)
        self._fresh = True

    def _read_index(self, pack_id: str) -> tuple[str, list[pack.IndexRow]]:
        return pack.parse_index(self.storage.get_bytes(pack_key(pack_id, "idx")), pack_key(pack_id, "idx"))

    # -- writing -----------------------------------------------------------------------------
    # A damaged cache object must never reach the remote: there it would pass for a good copy
    # (push skips what the remote lists), so objects are checked against their ids on the way out.
    def upload_pack(self, store: ObjectStore, oids: list[str]) -> tuple[str, int, list[pack.IndexRow]]:
        objects = [(oid, store.read(oid)) for oid in oids]
        for oid, data in objects:
            if blake3(data).hexdigest() != oid:
                raise corrupt_cache(oid)
        pack_id, data, idx = pack.build(objects)
        # the pack first: an index on the remote must always describe a complete pack
        self.storage.put_bytes(pack_key(pack_id, "pack"), data)
        self.storage.put_bytes(pack_key(pack_id, "idx"), idx)
        return pack_id, len(data), pack.parse_index(idx, pack_id)[1]

    def upload_loose(self, store: ObjectStore, oid: str) -> int:
        if hash_file(store.path(oid)) != oid:
            raise corrupt_cache(oid)
        self.storage.put_file(loose_key(oid), store.path(oid))
        return os.path.getsize(store.path(oid))

    # -- reading -----------------------------------------------------------------------------
    def read_object(self, oid: str) -> bytes:
        """One object's verified bytes, straight from the remote."""
        self.refresh()
        loc = self.index.locate([oid]).get(oid)
        if loc is None:
            raise RemoteKeyMissingError(
                f"object {oid} is not on remote {self.name!r}", "push it from a clone that has it: `cairn push`"
            )
        pack_id, off, size = loc
        data = (
            self.storage.get_bytes(loose_key(oid))
            if pack_id is None
            else self.storage.get_bytes(pack_key(pack_id, "pack"), off, off + size)
        )
        if blake3(data).hexdigest() != oid:
            raise corrupt_remote(self.name, oid)
        return data

    def fetch_run(
        self, store: ObjectStore, pack_id: str, run: list[pack.IndexRow], whole: bool
    ) -> tuple[int, list[str]]:
        """Fetch objects of one pack (one range request, or the whole pack); verify and store
        each. Returns (bytes stored, corrupt oids)."""
        key = pack_key(pack_id, "pack")
        if whole:
            blob, base = self.storage.get_bytes(key), 0
        else:
            base = run[0][1]
            end = run[-1][1] + run[-1][2]
            blob = self.storage.get_bytes(key, base, end)
        stored = 0
        bad = []
        for oid, off, size in run:
            data = blob[off - base : off - base + size]
            if len(data) != size or blake3(data).hexdigest() != oid:
                bad.append(oid)
                continue
            store.add_bytes(data, oid)
            stored += size
        return stored, bad

    def fetch_loose(self, store: ObjectStore, oid: str) -> tuple[int, list[str]]:
        tmp = store.tmp_path("fetch")
        try:
            self.storage.get_file(loose_key(oid), tmp)
            if hash_file(tmp) != oid:
                return 0, [oid]
            os.chmod(tmp, 0o444)
            size = os.path.getsize(tmp)
            store.publish(tmp, oid)
            return size, []
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def corrupt_remote(name: str, oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"object {oid} on remote {name!r} is corrupt (its bytes do not match its id); it was not used",
        "push it again from a clone that has a good copy (`cairn push`), or run `cairn gc --remote NAME`",
    )


def corrupt_cache(oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"cache object {oid} is corrupt (its content no longer matches its id); nothing was pushed for it",
        "run `cairn fsck --delete-corrupt`, then restore the data (`cairn pull`, or `cairn add` it again) and push",
    )
