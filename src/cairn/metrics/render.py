"""Writing plots: the HTML page (html.py) and, on request, one PNG per chart (vl-convert-python,
imported only here, and only when PNGs are asked for)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.errors import CairnError, MissingDependencyError
from cairn.metrics import html
from cairn.metrics.plots import Plots

DEFAULT_DIR = "cairn_plots"


@dataclass
class Written:
    page: Path
    pngs: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"page": str(self.page), "png": [str(p) for p in self.pngs]}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "plot"


def png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    try:
        import vl_convert
    except ImportError:
        raise MissingDependencyError(
            "PNG output needs the vl-convert-python package", "pip install vl-convert-python"
        ) from None
    try:
        return vl_convert.vegalite_to_png(spec, scale=scale)
    except Exception as e:  # vl-convert reports spec and runtime problems as plain exceptions
        raise CairnError(f"could not render a PNG of {spec.get('title')!r}: {e}", "report this with the spec") from None


def write_plots(result: Plots, out_dir: Path, with_png: bool = False, title: str = "cairn plots") -> Written:
    revs = ", ".join(
        r.name if r.commit is None or r.name == r.short else f"{r.name} ({r.short})" for r in result.revisions
    )
    charts = [html.PageChart(c.id, c.title, c.spec) for c in result.charts]
    images = [html.PageImages(s.id, [(i.rev, i.mime, i.data) for i in s.images]) for s in result.images]
    text = html.page(title, f"revisions: {revs}", charts, images, result.notes)
    written = Written(html.write(out_dir, "index.html", text))
    if with_png:
        used: set[str] = set()
        for c in result.charts:
            name, n = slug(c.id), 1
            while name in used:
                n += 1
                name = f"{slug(c.id)}-{n}"
            used.add(name)
            written.pngs.append(_write_png(out_dir, name + ".png", c.spec))
    return written


def write_chart(spec: dict[str, Any], out_dir: Path, name: str, title: str, subtitle: str, with_png: bool) -> Written:
    """One chart on its own page (`name`.html, and `name`.png on request)."""
    text = html.page(title, subtitle, [html.PageChart(name, title, spec)], [], [])
    written = Written(html.write(out_dir, f"{name}.html", text))
    if with_png:
        written.pngs.append(_write_png(out_dir, f"{name}.png", spec))
    return written


def _write_png(out_dir: Path, name: str, spec: dict[str, Any]) -> Path:
    data = png(spec)
    target = out_dir / name
    tmp = out_dir / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target
