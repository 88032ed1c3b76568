"""Stats records travelling with the data: `stats/<oid>.json` on a remote, next to the objects
(as the run-cache's `runs/<key>.json`), sent by push, brought by pull and fetch, and read on
demand when a version's data is not here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from blake3 import blake3

from cairn.datastats.record import StatsStore, decode
from cairn.errors import CairnError, RemoteError, RemoteKeyMissingError
from cairn.objects.hashing import is_oid
from cairn.remotes.remote import Remote

PREFIX = "stats"
# up to this many roots, a fetch asks for each one's record instead of listing them all
FEW_ROOTS = 16


def key(oid: str) -> str:
    return f"{PREFIX}/{oid}.json"


def push(st: StatsStore, r: Remote, state_dir: Path) -> int:
    """Upload the records whose data the remote holds and that it lacks; how many were sent. No
    local record, or none new since the last push: no request."""
    local = st.list()
    if not local:
        return 0
    have = r.index.all_oids()
    marker = pushed_marker(r, state_dir)
    known = set(marker.read_text().split()) if marker.exists() else set()
    wanted = [o for o in local if o in have and o not in known]
    if not wanted:
        return 0
    there = _remote_oids(r)
    sent = 0
    for oid in wanted:
        if oid not in there:
            r.storage.put_bytes(key(oid), st.raw(oid))
            sent += 1
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(sorted(known | set(wanted))) + "\n")
    os.replace(tmp, marker)
    return sent


def pushed_marker(r: Remote, state_dir: Path) -> Path:
    """Which records this clone knows the remote holds (a derived file: deleting it costs one
    listing). Tied to the remote's URL and generation, which changes whenever cairn deletes there."""
    tag = blake3(f"{r.storage.url}\n{r.index.generation()}".encode()).hexdigest()[:16]
    return state_dir / "stats-pushed" / f"{r.name}-{tag}.txt"


def fetch(st: StatsStore, r: Remote, roots: list[tuple[str, str]]) -> int:
    """Download the records of `roots` the remote has and the cache lacks; how many came. A few
    roots: one GET each (on S3 a listing of an empty prefix costs more); many: one listing, then
    a GET per record there. Records of files inside a folder come when asked for (`read`)."""
    wanted = sorted({o for _, o in roots} - set(st.list()))
    if not wanted:
        return 0
    got = 0
    try:
        if len(wanted) > FEW_ROOTS:
            there = _remote_oids(r)
            wanted = [o for o in wanted if o in there]
        for oid in wanted:
            try:
                rec = read(st, r, oid, f"of {oid[:12]} on remote {r.name!r}")
            except RemoteError:
                raise
            except CairnError:
                continue  # a damaged record: computed again when asked for
            got += rec is not None
    except RemoteError:
        return got  # stats are an extra: a fetch of the data does not fail for them
    return got


def read(st: StatsStore, r: Remote, oid: str, where: str) -> dict[str, Any] | None:
    """The record of `oid` from the remote, kept in the cache; None when the remote has none."""
    try:
        data = r.storage.peek(key(oid))
    except RemoteKeyMissingError:
        return None
    rec = decode(data, oid, where)
    st.put_raw(oid, data)
    return rec


def _remote_oids(r: Remote) -> set[str]:
    out = set()
    for k, _ in r.storage.list(PREFIX):
        oid = k.rpartition("/")[2].removesuffix(".json")
        if is_oid(oid):
            out.add(oid)
    return out
