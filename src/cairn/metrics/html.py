"""Self-contained HTML pages: the vendored vega, vega-lite and vega-embed scripts are embedded
in the page (no network, no files beside it), each chart's spec sits in a
`<script type="application/json" id="spec-N">` block, and images are data: URLs."""

from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.errors import MissingDependencyError, PathError

VENDOR = Path(__file__).parent / "vendor"
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.meta { color: #666; font-size: .9rem; margin: 0 0 1rem; }
.images { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; } figure img { max-width: 420px; border: 1px solid #ddd; }
figcaption { font-size: .85rem; color: #555; text-align: center; }
.note { color: #8a5a00; font-size: .9rem; }
"""


@dataclass
class PageChart:
    id: str
    title: str
    spec: dict[str, Any]


@dataclass
class PageImages:
    id: str
    images: list[tuple[str, str, bytes]]  # (caption, mime, data)


def vendored_scripts() -> list[tuple[str, str]]:
    """(name, text) of the three scripts the package ships."""
    missing = [n for n in SCRIPTS if not (VENDOR / n).is_file()]
    if missing:
        raise MissingDependencyError(
            f"the Vega scripts for plot pages are not in {VENDOR} ({', '.join(missing)} missing)",
            "this is a source checkout that was not built: reinstall with `pip install -e .` (its build "
            "runs `npm ci` in js/, so it needs npm), or install cairn from a wheel",
        )
    return [(n, (VENDOR / n).read_text(encoding="utf-8")) for n in SCRIPTS]


def versions() -> dict[str, str]:
    try:
        return json.loads((VENDOR / "versions.json").read_text()).get("versions", {})
    except (OSError, ValueError):
        return {}


def _script_text(text: str) -> str:
    # Inside <script>, only "</script" (any case) and "<!--" can end or confuse the element.
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT").replace("<!--", "<\\!--")


def _json_text(value: Any) -> str:
    # Valid JSON that cannot close the <script> element: '<', '>' and '&' only occur in strings.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, subtitle: str, charts: list[PageChart], images: list[PageImages], notes: list[str]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style>",
    ]
    ver = versions()
    for name, text in vendored_scripts():
        package = name.removesuffix(".min.js")
        label = f"{package} {ver.get(package, '')}".strip()
        parts.append(f'<script data-vendored="{html.escape(name)}">/* {label} */\n{_script_text(text)}\n</script>')
    parts += ["</head>", "<body>", f"<h1>{html.escape(title)}</h1>", f'<p class="meta">{html.escape(subtitle)}</p>']
    for note in notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for i, c in enumerate(charts):
        parts.append(f'<section class="chart"><h2>{html.escape(c.id)}</h2><div id="vis-{i}"></div>')
        parts.append(f'<script type="application/json" id="spec-{i}">{_json_text(c.spec)}</script></section>')
    for s in images:
        parts.append(f'<section><h2>{html.escape(s.id)}</h2><div class="images">')
        for caption, mime, data in s.images:
            url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
            parts.append(
                f'<figure><img src="{url}" alt="{html.escape(s.id)} at {html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</div></section>")
    parts.append(
        "<script>\n"
        "document.querySelectorAll('script[id^=\"spec-\"]').forEach(function (el) {\n"
        "  var target = '#vis-' + el.id.slice(5);\n"
        "  vegaEmbed(target, JSON.parse(el.textContent), {actions: {export: true, source: true, "
        "compiled: false, editor: false}, renderer: 'svg'})\n"
        "    .catch(function (err) { document.querySelector(target).textContent = 'chart error: ' + err; });\n"
        "});\n"
        "</script>"
    )
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write(out_dir: Path, name: str, text: str) -> Path:
    """Write `text` to out_dir/name atomically; returns the path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # out_dir, or a folder above it, is a file
        raise PathError(
            f"cannot write the page into {out_dir}: it (or a folder above it) is a file, not a folder",
            "name a folder for the page; it is created if needed",
        ) from None
    target = out_dir / name
    tmp = out_dir / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
