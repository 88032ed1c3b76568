"""What a queued experiment asks of a cluster node: `cpu=4,gpu=1,memory=8G` (plus custom
resources a node was started with, e.g. `ray start --resources='{"tpu": 1}'`). Stored with the
queue entry as a plain dict, turned into Ray's task options only where Ray runs it."""

from __future__ import annotations

import math
import re
from typing import Any

from cairn.errors import UserInputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*$")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?$", re.I)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_HINT = "write NAME=AMOUNT pairs, e.g. --resources cpu=4,gpu=1,memory=8G"


def parse(text: str) -> dict[str, float]:
    """`cpu=4,gpu=0.5,memory=8G,tpu=1` -> {"cpu": 4, "gpu": 0.5, "memory": 8589934592, "tpu": 1}.
    cpu, gpu and custom resources are counts (fractions allowed, as Ray allows); memory is bytes
    with an optional K/M/G/T suffix (powers of 1024)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not name or not value:
            raise UserInputError(f"bad resource {part!r}: expected NAME=AMOUNT", _HINT)
        key = name.lower() if name.lower() in ("cpu", "gpu", "memory") else name
        if not _NAME.match(key):
            raise UserInputError(f"bad resource name {name!r}", "names are letters, digits, _ . : - (" + _HINT + ")")
        if key in out:
            raise UserInputError(f"resource {key!r} is given twice", _HINT)
        out[key] = _memory(value) if key == "memory" else _count(key, value)
    if not out:
        raise UserInputError("--resources is empty", _HINT)
    return out


def _count(name: str, value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise UserInputError(f"bad amount for {name}: {value!r} is not a number", _HINT) from None
    if not math.isfinite(n) or n < 0:
        raise UserInputError(f"bad amount for {name}: {value!r} must be a number >= 0", _HINT)
    return int(n) if n == int(n) else n


def _memory(value: str) -> int:
    m = _SIZE.match(value.strip())
    if not m:
        raise UserInputError(f"bad amount for memory: {value!r}", "a size in bytes or with K, M, G, T (e.g. 8G)")
    unit = (m.group(2) or "").upper()[:1]
    return int(float(m.group(1)) * _UNITS[unit])


def label(resources: dict[str, float] | None) -> str:
    """`cpu=4,gpu=1,memory=8G`: as the user wrote it, for messages and `queue status`."""
    if not resources:
        return ""
    return ",".join(f"{k}={_size(v) if k == 'memory' else _num(v)}" for k, v in resources.items())


def _num(v: float) -> str:
    return str(int(v)) if float(v) == int(v) else str(v)


def _size(n: float) -> str:
    for unit in ("T", "G", "M", "K"):
        if n >= _UNITS[unit] and n % _UNITS[unit] == 0:
            return f"{int(n // _UNITS[unit])}{unit}"
    return str(int(n))


# -- Ray's names for them --------------------------------------------------------------------------
_RAY = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


def ray_request(resources: dict[str, float] | None) -> dict[str, float]:
    """The request in Ray's resource names (CPU, GPU, memory, custom names as they are). One CPU
    when none is asked for, as Ray's own default for a task."""
    request = {"CPU": 1.0}
    for k, v in (resources or {}).items():
        request[_RAY.get(k, k)] = float(v)
    return request


def ray_options(resources: dict[str, float] | None) -> dict[str, Any]:
    """`.options(...)` of a Ray task asking for `resources`."""
    req = ray_request(resources)
    opts: dict[str, Any] = {"num_cpus": req.pop("CPU"), "num_gpus": req.pop("GPU", 0)}
    if "memory" in req:
        opts["memory"] = int(req.pop("memory"))
    if req:
        opts["resources"] = req
    return opts


def fits(request: dict[str, float], node: dict[str, float]) -> bool:
    """Whether one node's total resources can hold the request (a task runs on one node)."""
    return all(node.get(k, 0) >= v for k, v in request.items() if v > 0)


def describe_nodes(nodes: list[dict[str, float]]) -> str:
    """`2 nodes: CPU=1 GPU=1 memory=...; CPU=1` for a message saying what the cluster has."""
    if not nodes:
        return "no live node"
    shown = []
    for node in nodes:
        keys = [k for k in node if not k.startswith("node:") and k != "object_store_memory"]
        shown.append(" ".join(f"{k}={_size(node[k]) if k == 'memory' else _num(node[k])}" for k in sorted(keys)))
    return f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}: " + "; ".join(sorted(shown))
