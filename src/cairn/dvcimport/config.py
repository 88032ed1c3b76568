"""DVC's configuration (.dvc/config and .dvc/config.local, configobj's INI dialect) and its
.dvcignore files, as cairn remotes and one root .cairnignore."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from cairn.dvcimport.problems import Problems

# DVC remote option -> cairn remote setting (the rest is named in a note)
_OPTIONS = {"endpointurl": "endpoint_url", "region": "region", "profile": "profile"}
_CREDENTIALS = {"access_key_id": "access_key_id", "secret_access_key": "secret_access_key"}
_CREDENTIALS |= {"session_token": "session_token"}
_QUIET = {"url"}
# where a cairn remote keeps its files inside the DVC remote's location: beside DVC's own
# (`files/md5/` of DVC 3, two-hex folders of DVC 2), never among them
CAIRN_SUBFOLDER = "cairn"


@dataclass
class DvcRemote:
    name: str
    url: str  # as DVC has it (a relative folder is relative to .dvc/)
    options: dict[str, str] = field(default_factory=dict)  # cairn settings, committed
    secrets: dict[str, str] = field(default_factory=dict)  # cairn settings, config.local.toml


@dataclass
class DvcConfig:
    remotes: dict[str, DvcRemote] = field(default_factory=dict)
    default_remote: str | None = None
    cache_dir: str = ".dvc/cache"  # repo-relative, or absolute when DVC's is
    cache_types: list[str] = field(default_factory=list)  # DVC's cache.type: the same link names as cairn's


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """configobj's files as DVC writes them: `[section]` or `['remote "name"']`, then indented
    `key = value` lines; `#`/`;` comments."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            name = _unquote(line[1:-1].strip())
            current = sections.setdefault(name, {})
            continue
        key, sep, value = line.partition("=")
        if sep and current is not None:
            current[key.strip()] = _unquote(value.strip())
    return sections


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _remote_name(section: str) -> str | None:
    head, _, rest = section.partition(" ")
    return _unquote(rest.strip()) if head == "remote" and rest else None


def read_config(root: Path, problems: Problems) -> DvcConfig:
    config = DvcConfig()
    merged: dict[str, dict[str, str]] = {}
    local_keys: dict[str, set[str]] = {}
    for name in ("config", "config.local"):
        try:
            text = (root / ".dvc" / name).read_text()
        except FileNotFoundError:
            continue
        except UnicodeDecodeError:
            problems.add(f".dvc/{name}", "is not UTF-8 text")
            continue
        for section, values in parse_ini(text).items():
            merged.setdefault(section, {}).update(values)
            if name == "config.local":
                local_keys.setdefault(section, set()).update(values)
    core = merged.get("core", {})
    config.default_remote = core.get("remote") or None
    cache_dir = merged.get("cache", {}).get("dir")
    if cache_dir:
        # DVC reads a relative cache dir from .dvc/
        config.cache_dir = cache_dir if os.path.isabs(cache_dir) else posixpath.normpath(f".dvc/{cache_dir}")
    raw_types = merged.get("cache", {}).get("type", "")
    types = [t.strip().strip("'\"") for t in raw_types.strip("[]").split(",") if t.strip()]
    if all(t in ("reflink", "hardlink", "symlink", "copy") for t in types):
        config.cache_types = types
        if "symlink" in types or "hardlink" in types:
            problems.note(
                ".dvc/config",
                f"cache.type {raw_types}: the workspace's tracked files may be links into .dvc/cache; before "
                "deleting it, delete the tracked data and run `cairn checkout` to link it to cairn's cache",
            )
    else:
        problems.note(".dvc/config", f"cache.type {raw_types!r} is not cairn's; cairn's default is kept")
    for section, values in merged.items():
        name = _remote_name(section)
        if name is None:
            continue
        where = f".dvc/config remote {name}"
        url = values.get("url")
        if not url:
            problems.add(where, "has no url")
            continue
        remote = DvcRemote(name, url)
        for key, value in values.items():
            if key in _OPTIONS:
                remote.options[_OPTIONS[key]] = value
            elif key in _CREDENTIALS:
                remote.secrets[_CREDENTIALS[key]] = value
            elif key not in _QUIET:
                problems.note(where, f"setting {key!r} has no cairn equivalent and was left out")
        config.remotes[name] = remote
    if config.default_remote and config.default_remote not in config.remotes:
        problems.note(".dvc/config", f"the default remote {config.default_remote!r} is not defined")
        config.default_remote = None
    return config


def cairn_url(url: str) -> str:
    """The cairn remote's URL for a DVC remote's: a `cairn` folder inside it. A relative folder
    (DVC reads it from .dvc/) becomes relative to the repository root, as cairn reads it."""
    if "://" in url:
        return url.rstrip("/") + "/" + CAIRN_SUBFOLDER
    if not os.path.isabs(os.path.expanduser(url)):
        url = posixpath.normpath(f".dvc/{url}")
    return posixpath.join(url, CAIRN_SUBFOLDER)


def storage_url(root: Path, url: str) -> str:
    """The DVC remote's own location, as cairn's storage layer opens it."""
    if "://" in url or os.path.isabs(os.path.expanduser(url)):
        return url
    return str(root / ".dvc" / url)


def ignore_lines(root: Path, files: list[str], problems: Problems) -> list[str]:
    """The patterns of every .dvcignore, rewritten for one .cairnignore at the root (gitignore
    syntax both; a pattern of a file in a folder is anchored under that folder)."""
    import pathspec

    out: list[str] = []
    for rel in sorted(files):
        folder = posixpath.dirname(rel)
        try:
            text = (root / rel).read_text()
        except UnicodeDecodeError:
            problems.add(rel, "is not UTF-8 text")
            continue
        if folder:
            out.append(f"# from {rel}")
        for raw in text.splitlines():
            line = raw.rstrip("\n")
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    pathspec.GitIgnoreSpec.from_lines([line])
                except ValueError:
                    problems.add(rel, f"pattern {line!r} is not valid gitignore syntax")
                    continue
            if not line.strip() or line.lstrip().startswith("#") or not folder:
                out.append(line)
                continue
            neg = "!" if line.startswith("!") else ""
            pattern = line[len(neg) :]
            inner = pattern.rstrip("/")
            if "/" in inner:  # anchored to its file's folder already
                out.append(f"{neg}/{folder}/{pattern.lstrip('/')}")
            else:  # matches at any depth below the folder
                out.append(f"{neg}/{folder}/**/{pattern}")
    return out
