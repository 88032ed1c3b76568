"""Data at a URL (s3://, gs://, az://, http(s)://, a local path): what version it is now, and its
bytes. The version is whatever the source gives that changes with the content: a version id
(S3 versioned buckets, GCS generations, Azure versions), an ETag, a modification time; for a
folder, cairn's digest of the listing of those. HTTP goes through the standard library; the
cloud schemes through fsspec (the same extras as remotes)."""

from __future__ import annotations

import email.utils
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from blake3 import blake3

from cairn.errors import (
    CairnError,
    PathError,
    RemoteAuthError,
    RemoteError,
    RemoteKeyMissingError,
    RemoteUnreachableError,
)
from cairn.objects.hashing import THREADS

_HTTP_TIMEOUT = 60
_CHUNK = 1024 * 1024
_CLOUD = ("s3", "s3a", "gs", "gcs", "az", "abfs")


@dataclass
class UrlData:
    """A URL's current state: `files` is [(relative path, size)] for a folder, None for a file."""

    url: str
    info: dict[str, Any]
    files: list[tuple[str, int]] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_folder(self) -> bool:
        return self.files is not None

    def open(self, rel: str = "") -> IO[bytes]:
        """The bytes of the file (or of `rel` inside the folder)."""
        return _open(self.url + ("/" + rel if rel else ""), self.options)


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def stat(url: str, options: dict[str, Any] | None = None) -> UrlData:
    """What is at `url` now. RemoteKeyMissingError when nothing is there."""
    s = scheme(url)
    if s == "file":
        return _stat_local(url.removeprefix("file://"))
    if s in ("http", "https"):
        return _stat_http(url)
    if s in _CLOUD:
        return _stat_cloud(url, dict(options or {}))
    raise PathError(f"cairn cannot read {s}:// URLs", "import from s3://, gs://, az://, http(s):// or a local path")


def hash_stream(f: IO[bytes]) -> tuple[str, int]:
    """BLAKE3 and size of a stream, read in chunks (nothing kept)."""
    h, n = blake3(max_threads=THREADS), 0
    while chunk := f.read(_CHUNK):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def download(data: UrlData, dest: Path) -> None:
    """Write the file or folder at `data.url` to `dest` (which must not exist yet)."""
    if not data.is_folder:
        _copy(data, "", dest)
        return
    dest.mkdir()
    for rel, _ in data.files or []:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(data, rel, target)


def _copy(data: UrlData, rel: str, dest: Path) -> None:
    with data.open(rel) as src, open(dest, "xb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def listing_digest(rows: list[tuple[str, Any]]) -> str:
    """One value for a folder's version: a digest of each file's path and version, sorted."""
    text = "\n".join(f"{path}\t{version}" for path, version in sorted(rows))
    return "listing-" + blake3(text.encode()).hexdigest()[:32]


# -- local paths -------------------------------------------------------------------------------
def _stat_local(path: str) -> UrlData:
    full = os.path.abspath(os.path.expanduser(path))
    try:
        st = os.stat(full)
    except FileNotFoundError:
        raise RemoteKeyMissingError(f"{path}: no such file or folder", "check the path") from None
    if not os.path.isdir(full):
        return UrlData(full, {"mtime": st.st_mtime_ns, "size": st.st_size})
    rows, files, total = [], [], 0
    for rel, fst in _walk(full, ""):
        files.append((rel, fst.st_size))
        rows.append((rel, f"{fst.st_size}:{fst.st_mtime_ns}"))
        total += fst.st_size
    return UrlData(full, {"etag": listing_digest(rows), "size": total}, sorted(files))


def _walk(root: str, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
    with os.scandir(os.path.join(root, prefix) if prefix else root) as it:
        for e in sorted(it, key=lambda e: e.name):
            rel = f"{prefix}{e.name}"
            if e.is_dir():
                yield from _walk(root, rel + "/")
            elif e.is_file():
                yield rel, e.stat()


# -- HTTP --------------------------------------------------------------------------------------
def _request(url: str, method: str):
    req = urllib.request.Request(url, method=method, headers={"User-Agent": "cairn"})
    try:
        return urllib.request.urlopen(req, timeout=_HTTP_TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise RemoteKeyMissingError(f"{url}: not found (HTTP 404)", "check the URL") from None
        if e.code in (401, 403):
            raise RemoteAuthError(
                f"{url}: access denied (HTTP {e.code})", "check that the URL is public or signed"
            ) from None
        if e.code == 405 and method == "HEAD":
            return None
        raise RemoteError(f"{url}: HTTP {e.code} {e.reason}", "check the URL") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RemoteUnreachableError(
            f"cannot reach {url} ({reason})", "check the URL and your network connection"
        ) from None


def _stat_http(url: str) -> UrlData:
    resp = _request(url, "HEAD") or _request(url, "GET")  # some servers refuse HEAD
    with resp:
        headers = resp.headers
    info: dict[str, Any] = {}
    etag = headers.get("ETag")
    if etag:
        info["etag"] = etag.strip()
    modified = headers.get("Last-Modified")
    if modified:
        try:
            info["mtime"] = email.utils.parsedate_to_datetime(modified).isoformat()
        except (TypeError, ValueError):
            info["mtime"] = modified
    length = headers.get("Content-Length")
    if length and length.isdigit():
        info["size"] = int(length)
    return UrlData(url, info)


# -- S3, GCS, Azure ----------------------------------------------------------------------------
def _fs(url: str, options: dict[str, Any]):
    from cairn.storage.fsspec import FsspecStorage

    base = url.rstrip("/").rsplit("/", 1)[0]
    return FsspecStorage(base, options).fs


def _cloud(url: str, what: str, fn):
    try:
        return fn()
    except CairnError:
        raise
    except FileNotFoundError:
        raise RemoteKeyMissingError(f"{url}: not found", "check the URL") from None
    except Exception as e:  # each backend raises its own types
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        if any(s in text for s in ("AccessDenied", "Forbidden", "403", "credentials")):
            # remote-auth, as docs/errors.md lists for sharing; the hint says where credentials go
            raise RemoteAuthError(
                f"{url}: access denied while {what} ({text})",
                "set credentials in the environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*), or on "
                "a remote of this repository whose URL this one starts with: `cairn remote add NAME URL-PREFIX`, "
                "then `cairn remote modify --local NAME access_key_id ...` (docs/sharing.md)",
            ) from None
        raise RemoteUnreachableError(
            f"cannot reach {url} while {what} ({text})",
            "check the URL, endpoint_url and your network connection",
        ) from None


def _version(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    vid = info.get("VersionId") or info.get("generation") or info.get("version_id")
    if vid and vid != "null":
        out["version_id"] = str(vid)
    etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
    if etag:
        out["etag"] = str(etag)
    for key in ("LastModified", "updated", "last_modified", "mtime"):
        if info.get(key) is not None:
            value = info[key]
            out["mtime"] = value.isoformat() if hasattr(value, "isoformat") else str(value)
            break
    out["size"] = int(info.get("size") or info.get("Size") or 0)
    return out


def _stat_cloud(url: str, options: dict[str, Any]) -> UrlData:
    fs = _fs(url, options)
    path = url.split("://", 1)[1].rstrip("/")
    info = _cloud(url, "reading its details", lambda: fs.info(path))
    if info.get("type") != "directory":
        return UrlData(url, _version(info), options=options)
    found = _cloud(url, "listing it", lambda: fs.find(path, detail=True))
    rows, files, total = [], [], 0
    for full, d in sorted(found.items()):
        rel = full[len(path) + 1 :] if full.startswith(path + "/") else full.rsplit("/", 1)[-1]
        if not rel or d.get("type") == "directory":
            continue
        v = _version(d)
        files.append((rel, v["size"]))
        rows.append((rel, f"{v.get('version_id', '')}:{v.get('etag', '')}:{v.get('mtime', '')}:{v['size']}"))
        total += v["size"]
    return UrlData(url.rstrip("/"), {"etag": listing_digest(rows), "size": total}, files, options)


def _open(url: str, options: dict[str, Any]) -> IO[bytes]:
    s = scheme(url)
    if s == "file":
        return open(url.removeprefix("file://"), "rb")
    if s in ("http", "https"):
        return _request(url, "GET")
    fs = _fs(url, options)
    path = url.split("://", 1)[1]
    return _cloud(url, "reading it", lambda: fs.open(path, "rb"))
