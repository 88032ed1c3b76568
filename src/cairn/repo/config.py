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
    "core.lock_wait": ((int, float), 5),
    "cache.dir": (str, "cache"),
    "cache.type": ((list, str), ["reflink", "copy"]),
}


class Config:
    def __init__(self, dot: Path) -> None:
        self.dot = dot
        self.values: dict[str, Any] = {}
        for name in (CONFIG_FILE, LOCAL_CONFIG_FILE):
            self.values.update(_flatten(_read(dot / name)))

    def get(self, key: str) -> Any:
        if key not in KNOWN:
            raise ConfigError(f"unknown config key {key!r}", f"known keys: {', '.join(sorted(KNOWN))}")
        return self.values.get(key, KNOWN[key][1])


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


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            if key not in KNOWN:
                raise ConfigError(f"unknown config key {key!r}", f"known keys: {', '.join(sorted(KNOWN))}")
            if not isinstance(v, KNOWN[key][0]):
                raise ConfigError(f"config key {key} has the wrong type ({type(v).__name__})")
            out[key] = v
    return out


def coerce(key: str, raw: str) -> Any:
    """A command-line value for `key` as the type the key holds."""
    if key not in KNOWN:
        raise ConfigError(f"unknown config key {key!r}", f"known keys: {', '.join(sorted(KNOWN))}")
    kind = KNOWN[key][0]
    if kind is bool:
        if raw.lower() in ("true", "yes", "1"):
            return True
        if raw.lower() in ("false", "no", "0"):
            return False
        raise ConfigError(f"{key} takes true or false, not {raw!r}")
    if kind == (int, float):
        try:
            return float(raw) if "." in raw else int(raw)
        except ValueError:
            raise ConfigError(f"{key} takes a number, not {raw!r}") from None
    if kind == (list, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def write(dot: Path, key: str, value: Any, local: bool = False) -> None:
    """Set (or with value None, unset) `key`, preserving the file's comments and layout."""
    import tomlkit

    path = dot / (LOCAL_CONFIG_FILE if local else CONFIG_FILE)
    try:
        doc = tomlkit.parse(path.read_text())
    except FileNotFoundError:
        doc = tomlkit.document()
    section, _, name = key.rpartition(".")
    table = doc.get(section)
    if value is None:
        if table is not None and name in table:
            del table[name]
    else:
        if table is None:
            table = tomlkit.table()
            doc[section] = table
        table[name] = value
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(tomlkit.dumps(doc))
    os.replace(tmp, path)
