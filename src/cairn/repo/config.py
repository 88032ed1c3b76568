"""`.cairn/config.toml` (committed) merged with `.cairn/config.local.toml` (ignored: credentials
and machine-specific settings). Read with tomllib; written with tomlkit, which keeps comments."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from cairn.errors import ConfigError

CONFIG_VERSION = 1
CONFIG_FILE = "config.toml"
LOCAL_CONFIG_FILE = "config.local.toml"

DEFAULT_CONFIG = f"""\
# cairn configuration, committed with the project.
# Machine-specific settings and credentials belong in config.local.toml (git-ignored).
version = {CONFIG_VERSION}

[cache]
# Link types between cache and workspace, tried in order: reflink, hardlink, symlink, copy.
type = ["reflink", "copy"]
# dir = "cache"   # relative to .cairn/; may be shared between checkouts
"""

# key -> (type, default). Unknown keys are refused so typos surface at once.
KNOWN: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "core.no_scm": (bool, False),
    "core.remote": (str, None),
    "core.lock_wait": ((int, float), 5),
    # a no-op walk of this many files or more is split over processes (docs/decisions.md); 0: never
    # (index.scan.SPLIT_FILES, not imported: every command reads the config, few walk)
    "core.walk_split_files": (int, 100_000),
    # an add with this many files to hash or more is split over processes (docs/decisions.md);
    # 0: never (index.hashpending.SPLIT_FILES)
    "core.hash_split_files": (int, 20_000),
    "cache.dir": (str, "cache"),
    "cache.type": ((list, str), ["reflink", "copy"]),
    "cache.chunking.enabled": (bool, False),  # large files as chunks (docs/chunks.md); opt-in, see "Why off by default"
    "cache.chunking.min_size": (int, 16 * 1024 * 1024),  # bytes; smaller files are stored whole
    "cache.pack_size": (int, 64 * 1024 * 1024),  # bytes at which a local pack is sealed (docs/formats.md)
    "env.vars": ((list, str), []),  # environment variables whose values each stage run records
}
# remote.<name>.<key>
REMOTE_KEYS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "endpoint_url": str,
    "region": str,
    "profile": str,
    "jobs": int,
    "pack_size": int,
    # S3 (mapped to s3fs's key, secret and token in storage/fsspec.py)
    "access_key_id": str,
    "secret_access_key": str,
    "session_token": str,
    # Azure, GCS and SFTP: passed to adlfs, gcsfs and sshfs (asyncssh) under these names
    "account_name": str,
    "account_key": str,
    "connection_string": str,
    "sas_token": str,
    "tenant_id": str,
    "client_id": str,
    "client_secret": str,
    "project": str,
    "token": str,
    "username": str,
    "port": int,
    "password": str,
    "client_keys": (list, str),
    "passphrase": str,
}
# Settings that hold a credential. They live in config.local.toml or the environment, never in
# the committed file: write() refuses them there and Config() refuses a committed file that has them.
SECRET_KEYS = frozenset(
    {
        "secret_access_key",
        "session_token",
        "account_key",
        "connection_string",
        "sas_token",
        "client_secret",
        "token",
        "password",
        "passphrase",
    }
)
# Settings that name a credential (a key id, key files) rather than hold it: kept local with
# the credential, but shown by `cairn remote list`.
CREDENTIAL_NAMES = frozenset({"access_key_id", "client_keys"})
# A setting added later under a name like these is a credential too, without editing the sets.
_SECRET_WORDS = ("secret", "token", "password", "passphrase", "credential", "private_key", "key_file", "keyfile")
# Credentials inside a URL or an Azure connection string given as one
_URL_SECRET_PARAMS = ("sig", "signature", "x-amz-signature", "x-goog-signature", "key", "apikey", "api_key")
_CONNECTION_STRING_SECRETS = ("AccountKey", "SharedAccessSignature", "SharedAccessKey")
# `scheme://user:password@host`; the password may hold '/' (S3 secret keys do), a port may not
_USERINFO_PASSWORD = re.compile(r"(://[^@/?#:]*:)(?!\d*(?:[/?#]|$))[^@]*@")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def check_remote_name(name: str) -> None:
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(
            f"{name!r} is not a valid remote name", "use letters, digits, '-' and '_' (for example: storage)"
        )


def is_secret(key: str) -> bool:
    """Whether config key `key` (`remote.NAME.password`, or just `password`) holds a credential,
    whose value is never committed nor shown."""
    name = key.rsplit(".", 1)[-1].lower()
    return name in SECRET_KEYS or any(word in name for word in _SECRET_WORDS)


def is_credential(key: str) -> bool:
    """Whether `key` holds or names a credential: such settings never go into the committed file."""
    return is_secret(key) or key.rsplit(".", 1)[-1].lower() in CREDENTIAL_NAMES


def url_credential(url: str) -> str | None:
    """What credential a URL carries (a password in `user:password@`, a signed or token query
    parameter, an Azure connection string's key), or None; the credential itself is never named."""
    lowered = url.lower()
    for part in _CONNECTION_STRING_SECRETS:
        if f"{part.lower()}=" in lowered:
            return f"an Azure connection string with {part}"
    if _USERINFO_PASSWORD.search(url):
        return "a password in user:password@"
    for name in _query_names(url):
        return f"the query parameter {name!r}"
    return None


def redacted(key: str, value: Any) -> Any:
    """`value` as it may be shown: a credential masked, and so is the credential inside a URL."""
    if is_secret(key):
        return "***"
    if not _is_url(key) or not isinstance(value, str) or not url_credential(value):
        return value
    shown = _USERINFO_PASSWORD.sub(r"\1***@", value)
    for part in _CONNECTION_STRING_SECRETS:
        shown = re.sub(f"({part}=)[^;]*", r"\1***", shown, flags=re.IGNORECASE)
    for name in _query_names(value):
        shown = re.sub(f"([?&]{re.escape(name)}=)[^&#]*", r"\1***", shown)
    return shown


def _is_url(key: str) -> bool:
    return key.rsplit(".", 1)[-1].endswith("url")  # url, endpoint_url


def _query_names(url: str) -> list[str]:
    """The query parameters of `url` that carry a credential, as written in it."""
    from urllib.parse import unquote_plus

    query = url.partition("?")[2].partition("#")[0]
    names = [part.partition("=")[0] for part in query.split("&") if part]
    return [n for n in names if unquote_plus(n).lower() in _URL_SECRET_PARAMS or is_secret(unquote_plus(n))]


def _committed_credential(key: str, value: Any) -> tuple[str, str] | None:
    """(the key, why) when `key = value` must not go into the committed config, else None."""
    if isinstance(value, dict):
        return next((found for k, v in value.items() if (found := _committed_credential(f"{key}.{k}", v))), None)
    if is_credential(key):
        return key, "is a credential"
    if _is_url(key) and isinstance(value, str) and (what := url_credential(value)):
        return key, f"holds a credential ({what})"
    return None


def key_type(key: str) -> type | tuple[type, ...]:
    """The type a config key holds; unknown keys are refused so typos surface at once."""
    if key in KNOWN:
        return KNOWN[key][0]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "remote" and parts[2] in REMOTE_KEYS:
        check_remote_name(parts[1])
        return REMOTE_KEYS[parts[2]]
    raise ConfigError(
        f"unknown config key {key!r}",
        f"known keys: {', '.join(sorted(KNOWN))}, remote.NAME.({'|'.join(REMOTE_KEYS)})",
    )


class Config:
    def __init__(self, dot: Path) -> None:
        self.dot = dot
        self.values: dict[str, Any] = {}
        for name in (CONFIG_FILE, LOCAL_CONFIG_FILE):
            values = _flatten(_read(dot / name), where=dot / name)
            if name == CONFIG_FILE:
                secrets = [k for k, v in values.items() if _committed_credential(k, v)]
                if secrets:
                    # every command refuses this file, `cairn config` included: the fix is by hand
                    raise ConfigError(
                        f"{dot / name} holds credentials ({', '.join(secrets)}), and that file is committed",
                        f"move them by hand to {dot / LOCAL_CONFIG_FILE} (git-ignored) or into environment "
                        "variables; revoke any credential that was already committed",
                    )
            self.values.update(values)

    def get(self, key: str) -> Any:
        key_type(key)
        default = KNOWN[key][1] if key in KNOWN else None
        return self.values.get(key, default)

    def remotes(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            if key.startswith("remote."):
                _, name, opt = key.split(".")
                out.setdefault(name, {})[opt] = value
        return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}", "fix the file by hand") from None
    version = doc.pop("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"{path} has config version {version!r}; this cairn reads version {CONFIG_VERSION}",
            "upgrade cairn",
        )
    return doc


def _flatten(doc: dict[str, Any], prefix: str = "", where: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + ".", where))
        else:
            kind = key_type(key)
            if not isinstance(v, kind) or isinstance(v, bool) != (kind is bool):
                expected = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
                raise ConfigError(
                    f"config key {key} has the wrong type ({type(v).__name__})",
                    f"in {where}: write a {expected}" if where else f"write a {expected}",
                )
            out[key] = v
    return out


def coerce(key: str, raw: str) -> Any:
    """A command-line value for `key` as the type the key holds."""
    kind = key_type(key)
    if kind is bool:
        if raw.lower() in ("true", "yes", "1"):
            return True
        if raw.lower() in ("false", "no", "0"):
            return False
        raise ConfigError(f"{key} takes true or false, not {raw!r}")
    if kind in ((int, float), int):
        try:
            number = float(raw) if "." in raw and kind is not int else int(raw)
        except ValueError:
            raise ConfigError(f"{key} takes a number, not {raw!r}") from None
        # 0 transfers or 0-byte packs mean nothing (jobs 0 silently fell back to the default)
        if key.rpartition(".")[2] in ("jobs", "pack_size") and number < 1:
            raise ConfigError(f"{key} takes a number of at least 1, not {raw!r}")
        return number
    if kind == (list, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def write(dot: Path, key: str, value: Any, local: bool = False) -> None:
    """Set (or with value None, unset) `key`, preserving the file's comments and layout.
    A key ending in a table name (e.g. `remote.old`) with value None removes the whole table."""
    import tomlkit

    path = dot / (LOCAL_CONFIG_FILE if local else CONFIG_FILE)
    # the one guard of every config write (`cairn config`, `remote add`, `remote modify`, ...)
    found = None if local or value is None else _committed_credential(key, value)
    if found:
        raise ConfigError(
            f"{found[0]} {found[1]} and would be committed with {path}",
            f"add --local to keep it in {dot / LOCAL_CONFIG_FILE} (git-ignored), or use environment variables",
        )
    try:
        doc = tomlkit.parse(path.read_text())
    except FileNotFoundError:
        doc = tomlkit.document()
    *sections, name = key.split(".")
    table: Any = doc
    new_table = False
    for i, section in enumerate(sections):
        if section not in table:
            if value is None:
                return
            # `[remote.NAME]` rather than an empty `[remote]` header above it
            table[section] = tomlkit.table(is_super_table=i < len(sections) - 1)
            new_table = True
        table = table[section]
    if value is None:
        if name in table:
            del table[name]
    else:
        table[name] = value
        if new_table:
            # a blank line after a new table, as before the next one: tomlkit runs it into the
            # following header (`[core]`), and a later removal then leaves a stray blank line in git
            table.add(tomlkit.nl())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(tomlkit.dumps(doc).rstrip("\n") + "\n")
    os.replace(tmp, path)
