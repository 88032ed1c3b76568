"""What differs between two environment records, named the way a person says it
("numpy 2.4.1 -> 2.5.5", "python 3.11.9 -> 3.12.3", "$SEED 1 -> 2")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ABSENT = "(none)"


@dataclass(frozen=True)
class Change:
    kind: str  # python | os | machine | cpu | gpu | package | var
    name: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.name} {_shown(self.old)} -> {_shown(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "old": self.old, "new": self.new, "text": str(self)}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every difference from `old` to `new`, in a fixed order (interpreter, system, hardware,
    packages by name, variables by name). Notes and fingerprints are not compared."""
    out: list[Change] = []

    def field(kind: str, name: str, a: Any, b: Any) -> None:
        if a != b:
            out.append(Change(kind, name, a, b))

    py_a, py_b = old.get("python") or {}, new.get("python") or {}
    field("python", "python", py_a.get("version"), py_b.get("version"))
    field("python", "python implementation", py_a.get("implementation"), py_b.get("implementation"))
    os_a, os_b = old.get("os") or {}, new.get("os") or {}
    field("os", "os", _os(os_a), _os(os_b))
    field("machine", "architecture", old.get("machine"), new.get("machine"))
    cpu_a, cpu_b = old.get("cpu") or {}, new.get("cpu") or {}
    field("cpu", "cpu", cpu_a.get("model"), cpu_b.get("model"))
    field("cpu", "cpu count", cpu_a.get("count"), cpu_b.get("count"))
    gpu_a, gpu_b = old.get("gpu") or {}, new.get("gpu") or {}
    field("gpu", "gpus", _devices(gpu_a), _devices(gpu_b))
    field("gpu", "nvidia driver", gpu_a.get("driver"), gpu_b.get("driver"))
    field("gpu", "cuda", gpu_a.get("cuda"), gpu_b.get("cuda"))
    pk_a, pk_b = versions(old), versions(new)
    for key in sorted(set(pk_a) | set(pk_b)):
        (name_a, ver_a), (name_b, ver_b) = pk_a.get(key, (None, None)), pk_b.get(key, (None, None))
        field("package", name_b or name_a or key, ver_a, ver_b)
    vars_a, vars_b = old.get("vars") or {}, new.get("vars") or {}
    for name in sorted(set(vars_a) | set(vars_b)):
        # a variable only one side recorded was not asked for on the other: nothing to compare
        if name in vars_a and name in vars_b:
            field("var", f"${name}", vars_a[name], vars_b[name])
    return out


def versions(record: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """normalized name -> (name as recorded, version), from the `name==version` entries."""
    out = {}
    for entry in record.get("packages") or []:
        name, _, version = str(entry).partition("==")
        out[normalize(name)] = (name, version)
    return out


def normalize(name: str) -> str:
    """PEP 503: `Foo_Bar` and `foo-bar` name the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _os(part: dict[str, Any]) -> str | None:
    words = [w for w in (part.get("system"), part.get("release")) if w]
    return " ".join(words) or None


def _devices(gpu: dict[str, Any]) -> str | None:
    names = [d.get("name") or "?" for d in gpu.get("devices") or []]
    return ", ".join(names) or None


def _shown(value: Any) -> str:
    return ABSENT if value is None else str(value)
