"""A DVC project written by hand, byte for byte as DVC 2 or DVC 3 leaves it (.dvc/config, the
cache in either layout with its `.dir` listing, a .dvc file, dvc.yaml, dvc.lock), so import-dvc
is tested without installing DVC; test_real_dvc.py checks the same against DVC 3.67.1 itself."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

RAW = {"a.txt": b"alpha\n", "b.txt": b"bravo\r\nline two\r\n", "sub/c.bin": bytes(range(256)) * 4}


def md5(data: bytes, legacy: bool) -> str:
    if legacy and b"\x00" not in data[:512]:
        data = data.replace(b"\r\n", b"\n")
    return hashlib.md5(data).hexdigest()


class DvcProject:
    def __init__(self, root: Path, legacy: bool) -> None:
        self.root = root
        self.legacy = legacy
        self.cache = root / ".dvc" / "cache"
        self.store = root.parent / "dvcstore"  # the DVC remote `store`

    def key(self, m: str) -> str:
        return f"{m[:2]}/{m[2:]}" if self.legacy else f"files/md5/{m[:2]}/{m[2:]}"

    def put(self, data: bytes, m: str | None = None, remote: bool = False) -> str:
        m = m or md5(data, self.legacy)
        for top in [self.cache] + ([self.store] if remote else []):
            path = top / self.key(m)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return m

    def folder(self, files: dict[str, bytes], remote: bool) -> str:
        listing = sorted(
            ({"md5": self.put(d, remote=remote), "relpath": r} for r, d in files.items()), key=lambda e: e["relpath"]
        )
        text = json.dumps(listing, sort_keys=True).encode()
        return self.put(text, hashlib.md5(text).hexdigest() + ".dir", remote=remote)

    def write(self, rel: str, data: bytes | str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else textwrap.dedent(data).lstrip("\n").encode())

    def record(self, path: str, m: str, size: int, nfiles: int | None = None, indent: int = 4) -> str:
        pad = " " * indent
        lines = [f"- path: {path}"]
        if not self.legacy:
            lines.append("  hash: md5")
        lines.append(f"  md5: {m}")
        lines.append(f"  size: {size}")
        if nfiles is not None:
            lines.append(f"  nfiles: {nfiles}")
        return "".join(f"{pad}{ln}\n" for ln in lines)


@pytest.fixture
def dvc_project() -> Callable[..., DvcProject]:
    """dvc_project(root, legacy=False, remote=False): a DVC project with data/raw tracked by a
    .dvc file, a `copy` stage (out.txt from data/raw/a.txt, param lr) and a metrics file, all
    committed to the DVC cache (and to the DVC remote `store` with remote=True)."""

    def make(root: Path, legacy: bool = False, remote: bool = False) -> DvcProject:
        p = DvcProject(root, legacy)
        p.write(".dvc/config", "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../dvcstore\n")
        p.write(".dvcignore", "# DVC's default\n*.tmp\n")
        for rel, data in RAW.items():
            p.write(f"data/raw/{rel}", data)
        p.write("data/raw/scratch.tmp", b"ignored by .dvcignore")
        dir_md5 = p.folder(RAW, remote)
        size = sum(len(d) for d in RAW.values())
        hash_line = "" if legacy else "  hash: md5\n"
        p.write(
            "data/raw.dvc", f"outs:\n- md5: {dir_md5}\n  size: {size}\n  nfiles: {len(RAW)}\n{hash_line}  path: raw\n"
        )
        p.write("data/.gitignore", "/raw\n")
        p.write("params.yaml", "lr: 0.1\nepochs: 3\n")
        p.write(
            "dvc.yaml",
            """
            stages:
              copy:
                cmd: cp data/raw/a.txt out.txt && echo '{"acc":1}' > metrics.json
                deps:
                  - data/raw
                params:
                  - lr
                outs:
                  - out.txt
                metrics:
                  - metrics.json:
                      cache: false
            """,
        )
        out, metrics = RAW["a.txt"], b'{"acc":1}\n'
        p.write("out.txt", out)
        p.write("metrics.json", metrics)
        out_md5 = p.put(out, remote=remote)
        metrics_md5 = md5(metrics, legacy)
        p.write(".gitignore", "/out.txt\n")
        schema = "schema: '2.0'\nstages:\n"
        p.write(
            "dvc.lock",
            schema
            + "  copy:\n    cmd: cp data/raw/a.txt out.txt && echo '{\"acc\":1}' > metrics.json\n    deps:\n"
            + p.record("data/raw", dir_md5, size, len(RAW))
            + "    params:\n      params.yaml:\n        lr: 0.1\n    outs:\n"
            + p.record("metrics.json", metrics_md5, len(metrics))
            + p.record("out.txt", out_md5, len(out)),
        )
        os.utime(root / "out.txt")
        return p

    return make
