"""`.cairn/config.toml` (committed) merged with `.cairn/config.local.toml` (ignored: credentials
and machine-specific settings). Read with tomllib; written with tomlkit, which keeps comments."""

from __future__ import annotations

import os
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
    "cache.dir": (str, "cache"),
    "cache.type": ((list, str), ["reflink", "copy"]),
}
# remote.<name>.<key>
REMOTE_KEYS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "endpoint_url": str,
    "region": str,
    "profile": str,
    "jobs": int,
    "pack_size": int,
    "access_key_id": str,
    "secret_access_key": str,
    "session_token": str,
}
SECRET_KEYS = {"access_key_id", "secret_access_key", "session_token"}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def check_remote_name(name: str) -> None:
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(
            f"{name!r} is not a valid remote name", "use letters, digits, '-' and '_' (for example: storage)"
        )


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
                secrets = [k for k in values if k.startswith("remote.") and k.rsplit(".", 1)[1] in SECRET_KEYS]
                if secrets:
                    raise ConfigError(
                        f"{dot / name} holds credentials ({', '.join(secrets)}), and that file is committed",
                        f"move them to {dot / LOCAL_CONFIG_FILE}: `cairn remote modify --local NAME KEY VALUE`",
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
            return float(raw) if "." in raw and kind is not int else int(raw)
        except ValueError:
            raise ConfigError(f"{key} takes a number, not {raw!r}") from None
    if kind == (list, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def write(dot: Path, key: str, value: Any, local: bool = False) -> None:
    """Set (or with value None, unset) `key`, preserving the file's comments and layout.
    A key ending in a table name (e.g. `remote.old`) with value None removes the whole table."""
    import tomlkit

    path = dot / (LOCAL_CONFIG_FILE if local else CONFIG_FILE)
    try:
        doc = tomlkit.parse(path.read_text())
    except FileNotFoundError:
        doc = tomlkit.document()
    *sections, name = key.split(".")
    table: Any = doc
    for i, section in enumerate(sections):
        if section not in table:
            if value is None:
                return
            # `[remote.NAME]` rather than an empty `[remote]` header above it
            table[section] = tomlkit.table(is_super_table=i < len(sections) - 1)
        table = table[section]
    if value is None:
        if name in table:
            del table[name]
    else:
        table[name] = value
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(tomlkit.dumps(doc))
    os.replace(tmp, path)
