"""Checkout of packed objects: the files whose objects sit in local packs are written from a few
large reads of each pack (in offset order) instead of one open and read per object.

Each object's bytes are checked against its id before its file is written, as for a loose
object; a pack gone since its index was read (a concurrent gc) falls back to the object-by-object
path, which finds the objects wherever gc put them."""

from __future__ import annotations

import os
from collections.abc import Callable

from blake3 import blake3

from cairn.index.statcache import stamp
from cairn.objects.localpacks import Location
from cairn.objects.newfile import NewFile
from cairn.objects.store import ObjectStore
from cairn.objects.tree import Entry
from cairn.workspace import linking

Item = tuple[int, str, Entry]  # number (for a spare temp name), repo-relative path, entry
Row = tuple[str, int, int, int, str]  # the stat cache's row of a written file


def split(store: ObjectStore, items: list[Item]) -> tuple[list[tuple[Item, Location]], list[Item]]:
    """(packed items with their location, the rest): one pass over the multi-pack index."""
    where = store.packs.locate_many(e.oid for _, _, e in items)
    if not where:
        return [], items
    packed, rest = [], []
    for item in items:
        loc = where.get(item[2].oid)
        if loc is None:
            rest.append(item)
        else:
            packed.append((item, loc))
    return packed, rest


def restore(store: ObjectStore, run: list[tuple[Item, Location]], rootdir: str, tmp_base: str, kind: str) -> list[Row]:
    """Write the files of one run (localpacks.runs) with one read of the pack."""
    pid, start, _ = run[0][1]
    end = max(off + size for _, (_, off, size) in run)
    try:
        fd = os.open(store.packs.pack_path(pid), os.O_RDONLY)
    except FileNotFoundError:
        store.packs.refresh()
        return [_one(store, item, rootdir, tmp_base, kind) for item, _ in run]
    try:
        data = memoryview(os.pread(fd, end - start, start))
    finally:
        os.close(fd)
    rows = []
    for (i, path, e), (_, off, size) in run:
        blob = data[off - start : off - start + size]
        if len(blob) != size or blake3(blob).hexdigest() != e.oid:
            raise linking.corrupt(e.oid)
        dest = f"{rootdir}/{path}"
        st = _write(dest, blob, e.exec, f"{tmp_base}.{i}")
        rows.append((path, st.st_ino, stamp(st), st.st_size, e.oid))
    return rows


def _write(dest: str, data: memoryview, executable: bool, tmp: str) -> os.stat_result:
    f = NewFile(dest.rpartition("/")[0] or ".", 0o755 if executable else 0o644, _spare(tmp))
    try:
        f.write(data)
    except BaseException:
        f.discard()
        raise
    return f.publish_stat(dest)


def _spare(tmp: str) -> Callable[[], str]:
    return lambda: tmp


def _one(store: ObjectStore, item: Item, rootdir: str, tmp_base: str, kind: str) -> Row:
    i, path, e = item
    dest = f"{rootdir}/{path}"
    st = linking.materialize(store, e.oid, dest, f"{tmp_base}.{i}", kind, e.exec, e.size) or os.stat(dest)
    return (path, st.st_ino, stamp(st), st.st_size, e.oid)
