"""Capturing the current environment. Listing the installed distributions costs ~50 ms and
nvidia-smi up to its timeout, so the machine part of the record is kept in a small cache file
named by what would change it (the interpreter, sys.path and the mtimes of its folders, which
an install or uninstall touches, the nvidia-smi found on PATH, and the boot): a stage run then
pays a few stats and one small file read. The environment belongs to the interpreter, not to a
repository, so the cache is per user: a fresh clone's first run pays nothing either."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:  # the cache key: cairn has BLAKE3 loaded anyway, hashlib's OpenSSL would cost every command ~3 ms
    from blake3 import blake3 as _key_hash
except ImportError:  # capture also runs in bare interpreters with only cairn's code on the path
    from hashlib import sha256 as _key_hash

from cairn.environment import gpus as gpus_mod
from cairn.environment.packages import packages
from cairn.environment.record import VERSION
from cairn.errors import ConfigError
from cairn.usercache import folder

CACHE_VERSION = 1
_KEEP = 8  # cache files kept (one per interpreter and state of its site-packages)


def user_cache_dir() -> Path | None:
    """Where the per-user cache lives ($XDG_CACHE_HOME or ~/.cache, then cairn/environment);
    None without a home folder."""
    try:
        return folder("environment")
    except ConfigError:
        return None


def capture(
    var_names: Iterable[str] = (),
    cache_dir: Path | None = None,
    gpu_timeout: float = gpus_mod.TIMEOUT_S,
) -> dict[str, Any]:
    """The record of the current environment (see docs/formats.md), with the values of the
    environment variables `var_names` (None for one that is not set). The machine part is read
    from, or written to, a cache file in `cache_dir` when given."""
    record = dict(_machine(cache_dir, gpu_timeout))
    record["vars"] = {name: os.environ.get(name) for name in sorted(set(var_names))}
    return record


def _machine(cache_dir: Path | None, gpu_timeout: float) -> dict[str, Any]:
    key = _cache_key()
    cache_file = cache_dir / f"{key[:32]}.json" if cache_dir is not None else None
    if cache_file is not None:
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("version") == CACHE_VERSION and cached.get("key") == key:
                _used(cache_file)
                return cached["record"]
        except (OSError, ValueError, AttributeError, KeyError):
            pass  # missing or damaged: it is only a cache
    record = machine(gpu_timeout)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "key": key, "record": record}))
            os.replace(tmp, cache_file)
            _prune(cache_file.parent)
        except OSError:
            pass  # an unwritable cache folder costs speed, not correctness
    return record


def _used(cache_file: Path) -> None:
    """Its last use, for pruning (cairn.usercache): one syscall."""
    try:
        os.utime(cache_file)
    except OSError:
        pass  # someone else's read-only cache: still a hit


def _prune(folder: Path) -> None:
    """Keep the most recently used few (a hit sets its file's mtime): each install or upgrade
    makes a new key."""
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in files[_KEEP:]:
        old.unlink(missing_ok=True)


def machine(gpu_timeout: float = gpus_mod.TIMEOUT_S) -> dict[str, Any]:
    """Everything but the environment variables, measured now."""
    import hashlib  # only here, not for the key of every command's cache lookup

    gpu, notes = gpus_mod.gpus(gpu_timeout)
    uname = platform.uname()
    dists = sorted(packages(), key=str.lower)
    return {
        "version": VERSION,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "os": {"system": uname.system, "release": uname.release, "platform": platform.platform()},
        "machine": uname.machine,
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "gpu": gpu,
        "packages": dists,
        "fingerprint": hashlib.sha256("\n".join(dists).encode()).hexdigest()[:16],
        "notes": notes,
    }


def _cache_key() -> str:
    parts: list[Any] = [sys.executable, sys.version, sys.path]
    for entry in sys.path:
        try:
            parts.append(os.stat(entry or ".").st_mtime_ns)
        except OSError:
            parts.append(None)
    smi = shutil.which("nvidia-smi")
    parts.append(smi)
    if smi:
        try:
            parts.append(os.stat(smi).st_mtime_ns)
        except OSError:
            pass
    try:  # a driver upgrade takes a reboot
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    except OSError:
        pass
    return _key_hash(json.dumps(parts, default=str).encode()).hexdigest()


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or None
