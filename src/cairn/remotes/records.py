"""Root records: what each push was for, kept on the remote itself.

A shared remote serves a team, so what `gc --remote` keeps cannot be decided by the refs of the
one clone that runs it: a teammate may have pushed data for a branch this clone never fetched.
As restic keeps a snapshot per backup, every push writes a small record (who, when, for which
refs and commits, and the root object ids it sent); gc keeps everything reachable from every
record. Records are written once and go only by an explicit policy (`--forget-older-than`,
`--forget-ref`), never as a side effect.

    roots/<UTC time>-<16 hex>.json   {"version": 1, "time": ..., "who": ..., "host": ...,
                                      "refs": [...], "commits": [...], "roots": [[kind, oid], ...]}
"""

from __future__ import annotations

import calendar
import json
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from blake3 import blake3

from cairn.errors import RemoteError, RemoteKeyMissingError
from cairn.remotes.closure import Root
from cairn.storage.base import Storage

RECORDS = "roots"
RECORD_VERSION = 1
_KINDS = ("file", "tree")


@dataclass
class PushInfo:
    """What the repository knows about a push: who pushes, for which refs and commits."""

    who: str
    refs: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RootRecord:
    key: str
    time: float
    who: str
    host: str
    refs: tuple[str, ...]
    commits: tuple[str, ...]
    roots: tuple[Root, ...]

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "time": _iso(self.time),
            "who": self.who,
            "host": self.host,
            "refs": list(self.refs),
            "commits": list(self.commits),
            "roots": len(self.roots),
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def encode(info: PushInfo, roots: Iterable[Root], now: float | None = None) -> tuple[str, bytes]:
    """(key, bytes) of a new record; the key sorts by time and names the content."""
    now = time.time() if now is None else now
    doc = {
        "version": RECORD_VERSION,
        "time": _iso(now),
        "who": info.who,
        "host": socket.gethostname(),
        "refs": sorted(set(info.refs)),
        "commits": sorted(set(info.commits)),
        "roots": sorted({(k, o) for k, o in roots}),
    }
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{RECORDS}/{stamp}-{blake3(data).hexdigest()[:16]}.json", data


def write(storage: Storage, info: PushInfo, roots: Iterable[Root]) -> str:
    """Record a push on the remote; the record's key."""
    key, data = encode(info, roots)
    storage.put_bytes(key, data)
    return key


def parse(data: bytes, key: str) -> RootRecord:
    """A record read from the remote, checked: its roots decide what gc keeps, so a record that
    cannot be read is an error, never an empty record."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != RECORD_VERSION:
            raise ValueError(f"version {doc.get('version') if isinstance(doc, dict) else None!r}")
        when = calendar.timegm(time.strptime(doc["time"], "%Y-%m-%dT%H:%M:%SZ"))
        roots = []
        for kind, oid in doc["roots"]:
            if kind not in _KINDS or not _is_oid(oid):
                raise ValueError(f"bad root {kind!r} {oid!r}")
            roots.append((kind, oid))
        refs = tuple(str(r) for r in doc.get("refs", []))
        commits = tuple(str(c) for c in doc.get("commits", []))
        return RootRecord(key, when, str(doc.get("who", "")), str(doc.get("host", "")), refs, commits, tuple(roots))
    except (ValueError, KeyError, TypeError) as e:
        raise RemoteError(
            f"the root record {key} on the remote cannot be read ({e}); gc cannot tell what it keeps, so "
            "nothing was removed",
            f"look at it; if it is damaged beyond use, delete {key} from the remote and run gc again",
        ) from None


def _is_oid(oid: object) -> bool:
    return isinstance(oid, str) and len(oid) == 64 and all(c in "0123456789abcdef" for c in oid)


def read_all(storage: Storage, jobs: int) -> list[RootRecord]:
    """Every record on the remote, oldest first."""
    keys = sorted(k for k, _ in storage.list(RECORDS) if k.endswith(".json"))

    def get(key: str) -> bytes | None:
        try:
            return storage.get_bytes(key)
        except RemoteKeyMissingError:  # forgotten by another gc meanwhile
            return None

    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="cairn-records") as pool:
        return [parse(d, k) for k, d in zip(keys, pool.map(get, keys), strict=True) if d is not None]


def forgotten(records: Iterable[RootRecord], older_than: float | None, refs: Iterable[str]) -> list[RootRecord]:
    """The records a forget policy drops: older than `older_than` seconds, or pushed for one of
    `refs` (a full ref name, or a branch or tag name)."""
    now = time.time()
    names = set(refs)
    out = []
    for r in records:
        old = older_than is not None and r.time < now - older_than
        if old or any(_ref_matches(ref, names) for ref in r.refs):
            out.append(r)
    return out


def _ref_matches(ref: str, names: set[str]) -> bool:
    return ref in names or any(ref in (f"refs/heads/{n}", f"refs/tags/{n}") for n in names)
