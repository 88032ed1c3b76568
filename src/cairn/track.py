"""The training script's side: log params, metrics, images and artifacts.

    from cairn import track
    with track.Run() as run:
        run.log_params({"lr": 0.01})
        for epoch in range(10):
            run.log_metric("loss", loss)
            run.next_step()

Files (in `track/`, or $CAIRN_TRACK_DIR, or Run(dir=...)): `metrics.json` (latest values and
the step), `plots/metrics/<name>.tsv` (one series per metric), `params.yaml`, `images/`,
`artifacts.json`. Declare `track/metrics.json` as a stage's metrics and `track/plots` as plots,
and `metrics diff`, `plots` and `exp show` pick them up. Works in a plain script, a notebook,
a pipeline stage and a queued experiment alike (where `queue status` shows the latest values).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Run", "latest"]

DEFAULT_DIR = "track"
METRICS = "metrics.json"


def run_dir() -> str:
    """Where a Run() without `dir` writes: $CAIRN_TRACK_DIR, else `track`."""
    return os.environ.get("CAIRN_TRACK_DIR") or DEFAULT_DIR


class Run:
    def __init__(self, dir: str | os.PathLike[str] | None = None, resume: bool = False) -> None:
        self.dir = Path(dir or run_dir())
        self.step = 0
        self.metrics: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.artifacts: list[dict[str, Any]] = []
        if resume and (self.dir / METRICS).exists():
            self.metrics = json.loads((self.dir / METRICS).read_text())
            self.step = int(self.metrics.pop("step", 0))
        elif not resume:
            shutil.rmtree(self.dir / "plots", ignore_errors=True)  # a new run starts fresh series
        self.dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._write_metrics()

    # -- params --------------------------------------------------------------------------------
    def log_param(self, name: str, value: Any) -> None:
        self.log_params({name: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self.params.update(params)
        _atomic(self.dir / "params.yaml", yaml.safe_dump(self.params, sort_keys=False))

    # -- metrics -------------------------------------------------------------------------------
    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        if step is not None:
            self.step = step
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy and torch scalars, Decimal
            except (TypeError, ValueError):
                raise TypeError(f"metric {name!r}: {value!r} is not a number") from None
        series = self.dir / "plots" / "metrics" / f"{_file_name(name, 'metric')}.tsv"
        self.metrics[name] = value
        series.parent.mkdir(parents=True, exist_ok=True)
        new = not series.exists()
        with open(series, "a") as f:
            if new:
                f.write(f"step\t{name}\n")
            f.write(f"{self.step}\t{value}\n")
        self._write_metrics()

    def next_step(self) -> None:
        self.step += 1
        self._write_metrics()

    def _write_metrics(self) -> None:
        _atomic(self.dir / METRICS, json.dumps({**self.metrics, "step": self.step}, indent=2) + "\n")

    # -- files ---------------------------------------------------------------------------------
    def log_image(self, name: str, image: str | os.PathLike[str] | Any) -> Path:
        """Copy an image file, or write a 2-D (grey) or 3-D (RGB/RGBA) uint8 array as PNG."""
        folder = self.dir / "images"
        name = _file_name(name, "image")
        if isinstance(image, (str, os.PathLike)):
            src = Path(image)
            dest = folder / (name if Path(name).suffix else name + src.suffix)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            return dest
        dest = folder / (name if name.endswith(".png") else name + ".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        _atomic_bytes(dest, _png(image))
        return dest

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if not p.exists():  # listed with size 0 it would look logged; log_image raises too
            raise FileNotFoundError(f"log_artifact: {p} does not exist (log it once it is written)")
        size = p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        self.artifacts.append({"path": str(p), "size": size, "logged": time.time()})
        _atomic(self.dir / "artifacts.json", json.dumps(self.artifacts, indent=2) + "\n")


def _file_name(name: str, what: str) -> str:
    """`name` as a path below the run's folder: `a/b` makes a subfolder, but `../x` or `/x`
    would write outside it."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"{what} name {name!r} is not a relative name: it names a file below the run's folder, "
            "like 'loss' or 'val/loss' (no '..', no leading or doubled '/')"
        )
    return name


def latest(workspace: Path, dir: str = DEFAULT_DIR) -> dict[str, Any]:
    """The latest values a run in `workspace` logged ({} when none yet)."""
    try:
        return json.loads((workspace / dir / METRICS).read_text())
    except (OSError, ValueError):
        return {}


def _atomic(path: Path, text: str) -> None:
    _atomic_bytes(path, text.encode())


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _png(array: Any) -> bytes:
    """A minimal PNG encoder (zlib from the standard library) for uint8 arrays."""
    shape = getattr(array, "shape", None)
    if shape is None or len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (3, 4)):
        raise ValueError("log_image takes a file path, or an array of shape (h, w), (h, w, 3) or (h, w, 4)")
    height, width = shape[0], shape[1]
    color = 0 if len(shape) == 2 else {3: 2, 4: 6}[shape[2]]  # grey, RGB, RGBA
    rows = b"".join(b"\x00" + bytes(memoryview(array[y].astype("uint8").tobytes())) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
