"""Staging (a pull writing the files of folders the workspace lacks as their objects arrive):
files are noted a fetch batch at a time, and the stat rows of what was written come back grouped
by folder, as the stat cache takes them."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from blake3 import blake3

from cairn.objects.tree import FILE, TREE, Entry, Tree
from cairn.remotes.staging import Staging


def _oid(data: bytes) -> str:
    return blake3(data).hexdigest()


def test_staged_files_are_placed_and_their_stat_rows_come_back_by_folder(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "ws").mkdir()
    blobs = {f"f{i:02d}.bin": bytes([i]) * (i + 1) for i in range(40)}
    sub = Tree([Entry(n, FILE, _oid(d), len(d), n == "f03.bin") for n, d in blobs.items()])
    sub_oid = sub.encode()[0]
    top = Tree([Entry("a.bin", FILE, _oid(b"a"), 1), Entry("sub", TREE, sub_oid, 0)])
    top_oid = top.encode()[0]
    staging = Staging(tmp_path / "tmp", [(top_oid, "data")])

    staging.expand(top_oid, top)
    staging.write(_oid(b"a"), b"a")
    staging.batch_done()
    staging.write(_oid(b"a"), b"a")  # a later batch: its folders' files only (checkout writes the rest)
    staging.expand(sub_oid, sub)
    with ThreadPoolExecutor(4) as pool:  # as fetch's transfer threads write
        list(pool.map(lambda d: staging.write(_oid(d), d), blobs.values()))
    placed = staging.publish(tmp_path / "ws")

    assert placed == ["data"]
    records = list(staging.records(placed))
    assert [r[0] for r in records][:1] == ["data/a.bin"]  # one group per folder, top first
    assert sorted(r[0] for r in records) == sorted(["data/a.bin", *(f"data/sub/{n}" for n in blobs)])
    assert sorted(staging.paths("data")) == sorted(r[0] for r in records)
    for rel, ino, stamp, size, oid in records:
        st = os.stat(tmp_path / "ws" / rel)
        assert (ino, stamp, size) == (st.st_ino, (st.st_mtime_ns, st.st_ctime_ns), st.st_size), rel
        assert oid == _oid((tmp_path / "ws" / rel).read_bytes()), rel
    assert os.stat(tmp_path / "ws" / "data/sub/f03.bin").st_mode & 0o111
    assert list(staging.records(["other"])) == []
    staging.discard()
