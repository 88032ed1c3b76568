"""Cloud and network storage through fsspec: s3 (s3fs), gs (gcsfs), az (adlfs), ssh (sshfs).

Each backend is an optional extra, imported lazily; a missing one is a clear error naming the
extra. Library exceptions are translated into cairn's remote errors here, in one place."""

from __future__ import annotations

import errno
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from cairn.errors import (
    MissingDependencyError,
    RemoteAuthError,
    RemoteError,
    RemoteKeyMissingError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)
from cairn.storage import retries
from cairn.storage.base import TMP_PREFIX, Storage

T = TypeVar("T")
_EXTRAS = {"s3": "s3", "gs": "gs", "gcs": "gs", "az": "azure", "abfs": "azure", "ssh": "ssh", "sftp": "ssh"}
# Object stores make a single PUT atomic; elsewhere a put goes to a temp key and is moved.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "memory"}
_SSH = {"ssh", "sftp"}
_SSH_READ = 8 * 1024 * 1024
_CONNECT_TIMEOUT = 5
_READ_TIMEOUT = 60


# Multipart uploads hold one part of a file in memory: s3fs's own put_file reads a file of up to
# twice its part size whole, and by default sends 10 parts of 50 MiB at once (500 MiB per file).
# 5 MiB is S3's smallest part; a file needs bigger parts only beyond S3's 10,000 parts.
_PART = 5 * 1024 * 1024
_MAX_PARTS = 10_000
# Files up to this size go up in one request whose body streams from the file (a pack, most
# large objects); bigger ones in parts, which a failed request does not restart from zero.
_STREAMED_PUT = 64 * 1024 * 1024


class FsspecStorage(Storage):
    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.protocol, _, self.base = self.url.partition("://")
        self.options = dict(options or {})
        if self.protocol in _SSH:
            self.base, self.options = _ssh_location(self.url, self.options)
        self._fs = None
        self._fs_lock = threading.Lock()

    @property
    def fs(self):
        """The fsspec file system, made on first use: importing s3fs and aiobotocore alone costs
        ~0.3 s, which a command answered by `peek` never pays."""
        if self._fs is None:
            with self._fs_lock:
                if self._fs is None:
                    self._fs = _filesystem(self.protocol, dict(self.options))
        return self._fs

    def _s3(self) -> bool:
        return self.protocol in ("s3", "s3a")

    def _p(self, key: str) -> str:
        return f"{self.base}/{key}" if key else self.base

    def _move_into_place(self, tmp: str, key: str) -> None:
        # sshfs's mv renames but, unlike its puts, does not make the target's folder
        self.fs.makedirs(self.fs._parent(self._p(key)), exist_ok=True)
        self.fs.mv(tmp, self._p(key))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return retries.again(fn) if self._s3() else fn()
        except Exception as e:  # every backend raises its own types; translate them once
            raise _translate(e, f"{self.url}: {what}") from e

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.protocol in _ATOMIC_PUT:
            self._call(f"writing {key}", lambda: self.fs.pipe_file(self._p(key), data))
        else:
            tmp = self._p(f"{TMP_PREFIX}/{uuid.uuid4().hex}")
            self._call(f"writing {key}", lambda: self.fs.pipe_file(tmp, data))
            self._call(f"writing {key}", lambda: self._move_into_place(tmp, key))

    def put_file(self, key: str, path: str, consume: bool = False, check: Callable[[], None] | None = None) -> None:
        if check is not None:  # before the upload: an object store has no rename to publish with
            check()
        if self._s3():
            size = os.path.getsize(path)
            if size <= _STREAMED_PUT:
                self._call(f"uploading {key}", lambda: self._put_streamed(key, path, size))
                return
            # parts of _PART, one at a time: a large file never sits in memory
            part = max(_PART, -(-size // _MAX_PARTS))
            self._call(f"uploading {key}", lambda: self.fs.put_file(path, self._p(key), chunksize=part))
        elif self.protocol in _ATOMIC_PUT:
            self._call(f"uploading {key}", lambda: self.fs.put_file(path, self._p(key)))
        else:
            tmp = self._p(f"{TMP_PREFIX}/{uuid.uuid4().hex}")
            self._call(f"uploading {key}", lambda: self.fs.put_file(path, tmp))
            self._call(f"uploading {key}", lambda: self._move_into_place(tmp, key))

    def _put_streamed(self, key: str, path: str, size: int) -> None:
        """One PutObject whose body is read from the open file as it is sent (s3fs would read
        the file into memory first)."""
        bucket, name, _ = self.fs.split_path(self._p(key))
        with open(path, "rb") as f:
            self.fs.call_s3("put_object", Bucket=bucket, Key=name, Body=f, ContentLength=size)
        self.fs.invalidate_cache(self._p(key))

    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        if end is not None and end <= (start or 0):
            # s3fs sends an empty range as no Range header at all and returns the whole object
            self._call(f"reading {key}", lambda: self.fs.info(self._p(key)))  # a missing key still fails
            return b""

        def read() -> bytes:
            try:
                if self.protocol in _SSH and (start or end is not None):
                    return self._read_range(key, start or 0, end)
                return self.fs.cat_file(self._p(key), start=start, end=end)
            except Exception as e:
                # S3, GCS and Azure answer 416 to a range starting at or past the end (the key
                # exists): as a slice, b""
                if start and _range_not_satisfiable(e):
                    return b""
                raise

        return self._call(f"reading {key}", read)

    def _read_range(self, key: str, start: int, end: int | None) -> bytes:
        """sshfs's cat_file ignores start and end (it returns the whole file): seek and read."""
        with self.fs.open(self._p(key), "rb") as f:
            f.seek(start)
            if end is not None:
                return f.read(max(0, end - start))
            chunks = []  # read() to the end fails when the offset is past it; a short read is the end
            while chunk := f.read(_SSH_READ):
                chunks.append(chunk)
            return b"".join(chunks)

    def get_file(self, key: str, path: str) -> None:
        self._call(f"downloading {key}", lambda: self.fs.get_file(self._p(key), path))

    def peek(self, key: str) -> bytes:
        if self._s3() and self._fs is None:
            from cairn.storage import s3light

            bucket, _, prefix = self.base.partition("/")
            try:
                return s3light.get(self.options, bucket, f"{prefix}/{key}" if prefix else key)
            except s3light.Unavailable:
                pass  # the full client answers, with its errors
        return self.get_bytes(key)

    def exists(self, key: str) -> bool:
        try:
            info = self._call(f"checking {key}", lambda: self.fs.info(self._p(key)))
        except RemoteKeyMissingError:
            return False
        return info.get("type") != "directory"  # a key, not a prefix of keys

    def scan(self, prefix: str) -> Iterator[tuple[str, int, float | None]]:
        root = self._p(prefix).rstrip("/")
        try:
            found = self._call(f"listing {prefix or '/'}", lambda: self.fs.find(root, detail=True))
        except RemoteKeyMissingError:
            return
        if not isinstance(found, dict):
            return  # adlfs answers find() on a key, not a folder, with [key]
        cut = len(self.base) + 1
        inside = f"{root}/"  # find() on a key returns that key itself; `prefix` is a folder
        temps = self._p(TMP_PREFIX) + "/"  # keys being written, listed only when asked for
        for path, info in found.items():
            path = path.split("://", 1)[-1]
            if path.startswith(inside) and (prefix or not path.startswith(temps)):
                yield path[cut:], int(info.get("size") or 0), _mtime(info)

    def delete(self, key: str) -> None:
        try:
            self._call(f"deleting {key}", lambda: self.fs.rm_file(self._p(key)))
        except RemoteKeyMissingError:
            pass

    def check(self) -> None:
        if self.protocol in _SSH:
            self._check_folder()
            return
        bucket = self.base.split("/", 1)[0]
        # s3fs's exists() answers False to any error: a failing network would read as "no bucket"
        probe = (lambda: self.fs.call_s3("head_bucket", Bucket=bucket) and True) if self._s3() else None
        try:
            ok = self._call("checking the location", probe or (lambda: self.fs.exists(bucket)))
        except (RemoteKeyMissingError, RemoteNotFoundError):
            ok = False
        if not ok:
            raise RemoteNotFoundError(
                f"{self.protocol}://{bucket} does not exist",
                "create the bucket first, or fix the URL with `cairn remote modify NAME url URL`",
            )

    def _check_folder(self) -> None:
        """Like a local folder: the remote folder, or its parent, must exist (a push makes it)."""
        parent = self.base.rstrip("/").rsplit("/", 1)[0] or "/"
        try:
            ok = self._call("checking the location", lambda: self.fs.isdir(self.base) or self.fs.isdir(parent))
        except RemoteKeyMissingError:
            ok = False
        if not ok:
            raise RemoteNotFoundError(
                f"the remote folder {self.base} does not exist on {self.options.get('host')}, nor does its parent",
                "create it (ssh HOST mkdir -p PATH) or fix the URL with `cairn remote modify NAME url URL`",
            )


def _ssh_location(url: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(path on the server, options) of ssh://[user@]host[:port]/path: sshfs takes the host,
    port and user as options and paths without them. Host keys are checked against
    ~/.ssh/known_hosts as ssh does (sshfs alone would accept any host key)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    found: dict[str, Any] = {"host": parts.hostname or "", "known_hosts": ()}
    if parts.port:
        found["port"] = parts.port
    if parts.username:
        found["username"] = unquote(parts.username)
    return unquote(parts.path).rstrip("/") or "/", {**found, **options}


def _range_not_satisfiable(e: Exception) -> bool:
    """Whether a ranged read failed only because the range starts at or past the end."""
    status = getattr(e, "status_code", None) or getattr(e, "code", None)  # adlfs's azure-core, gcsfs
    if status == 416:
        return True
    return isinstance(e, OSError) and e.errno == errno.EINVAL and "range" in str(e).lower()  # s3fs


def _mtime(info: dict[str, Any]) -> float | None:
    """When a listed key was written: each backend names it differently (s3 LastModified, gcs
    updated, azure last_modified, sftp and local mtime)."""
    for name in ("LastModified", "last_modified", "updated", "mtime", "modified", "created"):
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _filesystem(protocol: str, options: dict[str, Any]):
    extra = _EXTRAS.get(protocol, protocol)
    try:
        import fsspec

        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        raise MissingDependencyError(
            f"remotes with {protocol}:// need an optional package that is not installed ({e.name or e})",
            f'install it with: pip install "cairn[{extra}]"',
        ) from None
    except ValueError:
        raise RemoteError(
            f"no storage backend knows the URL scheme {protocol}://",
            "use a local path, s3://, gs://, az:// or ssh://",
        ) from None
    if protocol in ("s3", "s3a"):
        options = _s3_options(options)
    if protocol in ("gs", "gcs") and "endpoint_url" in options:
        # gcsfs's default class asks Google's gRPC storage-control API about every bucket (for
        # zonal and hierarchical buckets); another endpoint does not serve it, and each
        # operation would wait for that answer. The JSON API class needs none of it.
        from gcsfs.core import GCSFileSystem

        cls = GCSFileSystem
    options["skip_instance_cache"] = True
    fs = cls(**options)
    if protocol in ("s3", "s3a"):
        # s3fs retries 5 times by default, around botocore's own retries (nested for reads): a
        # silent endpoint would hang for minutes. botocore retries requests, FsspecStorage._call
        # answers cut off mid-body (storage/retries.py), so the wait is bounded.
        fs.retries = 1
        # One request per read or part: s3fs otherwise asks for the size (HEAD) before every
        # whole-object read and fetches big files as 10 parallel 50 MiB parts held in memory.
        fs.max_concurrency = 1
    return fs


def _s3_options(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    client: dict[str, Any] = {}
    if "endpoint_url" in options:
        out["endpoint_url"] = options.pop("endpoint_url")
    if "region" in options:
        client["region_name"] = options.pop("region")
    if "profile" in options:
        out["profile"] = options.pop("profile")
    if "access_key_id" in options:
        out["key"] = options.pop("access_key_id")
    if "secret_access_key" in options:
        out["secret"] = options.pop("secret_access_key")
    if "session_token" in options:
        out["token"] = options.pop("session_token")
    out["client_kwargs"] = client
    out["config_kwargs"] = {
        "connect_timeout": _CONNECT_TIMEOUT,
        "read_timeout": _READ_TIMEOUT,
        # total_max_attempts counts the first try; botocore's max_attempts counts retries only
        "retries": {"total_max_attempts": retries.attempts(), "mode": "standard"},
    }
    out.update(options)
    return out


_UNREACHABLE_HINT = (
    "check the URL and endpoint_url (`cairn remote list`) and your network connection; once the storage "
    "answers, run the command again: only what is still missing moves"
)


_AZ_HINT = (
    "check the credentials: `cairn remote modify NAME connection_string ... --local` (or account_name with "
    "account_key or sas_token), or AZURE_STORAGE_CONNECTION_STRING"
)
_GS_HINT = "check the credentials: GOOGLE_APPLICATION_CREDENTIALS, or `gcloud auth application-default login`"
_SSH_HINT = "check that the server accepts your key (~/.ssh, ssh-agent, ~/.ssh/config): try ssh to the same host"
_AUTH_HINTS = {"az": _AZ_HINT, "abfs": _AZ_HINT, "gs": _GS_HINT, "gcs": _GS_HINT, "ssh": _SSH_HINT, "sftp": _SSH_HINT}


_STATUS_403 = re.compile(r"(?<![\w:.])403(?![\w.])")


def _translate(e: Exception, where: str) -> Exception:
    from cairn.errors import CairnError

    if isinstance(e, CairnError):
        return e
    text = str(e)
    name = type(e).__name__
    if isinstance(e, FileNotFoundError) or "ContainerNotFound" in text:  # adlfs writes raise the latter
        if "bucket" in text.lower() or "ContainerNotFound" in text:
            return RemoteNotFoundError(f"{where}: the bucket does not exist", "create it, or fix the remote URL")
        return RemoteKeyMissingError(f"{where}: not found")
    if name == "HostKeyNotVerifiable":
        return RemoteAuthError(
            f"{where}: the server's host key is not in ~/.ssh/known_hosts ({text})",
            "connect once with ssh to the same host and port, check the key and accept it, then run this again",
        )
    if (
        isinstance(e, PermissionError)
        or getattr(e, "status_code", None) in (401, 403)  # azure-core
        or any(s in text for s in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden"))
        # a status 403, not "403" inside a port or an id (a dropped connection to 127.0.0.1:40393
        # was reported as access denied)
        or _STATUS_403.search(text) is not None
    ):
        return RemoteAuthError(
            f"{where}: access denied ({text.splitlines()[0] if text else name})",
            _AUTH_HINTS.get(
                where.split("://", 1)[0],
                "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile with "
                "`cairn remote modify NAME profile P --local`)",
            ),
        )
    if "NoCredentials" in name or "Unable to locate credentials" in text:
        return RemoteAuthError(
            f"{where}: no credentials found",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile with `cairn remote modify NAME profile P`",
        )
    transient = retries.describe(e)
    if transient is not None:
        return RemoteUnreachableError(f"{where}: {transient}", _UNREACHABLE_HINT)
    if any(s in name for s in ("EndpointConnection", "ConnectTimeout", "ConnectionError", "ClientConnector")) or (
        isinstance(e, (TimeoutError, ConnectionError, OSError)) and not isinstance(e, FileNotFoundError)
    ):
        return RemoteUnreachableError(
            f"{where}: cannot reach the storage ({text.splitlines()[0] if text else name})", _UNREACHABLE_HINT
        )
    return RemoteError(f"{where}: {name}: {text}", None)
