"""The self-contained page: vendored scripts inline, specs as parseable JSON, images as data URLs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cairn.errors import MissingDependencyError
from cairn.metrics import html

SPEC_BLOCK = re.compile(r'<script type="application/json" id="spec-(\d+)">(.*?)</script>', re.S)


def specs_of(page: str) -> list[dict]:
    return [json.loads(m.group(2)) for m in SPEC_BLOCK.finditer(page)]


def test_page_embeds_the_vendored_scripts_and_the_specs() -> None:
    spec = {"title": "t", "data": {"values": [{"a": "</script><script>alert(1)</script>", "b": "x & y"}]}}
    text = html.page("cairn plots", "revisions: workspace", [html.PageChart("p.csv", "t", spec)], [], ["a note"])
    for name in html.SCRIPTS:
        body = (html.VENDOR / name).read_text(encoding="utf-8")
        assert len(body) > 10_000
        assert body.rstrip()[-200:] in text, f"{name} is not embedded"
    assert "<script src=" not in text and "http://" not in text.split("<script", 1)[0]
    assert specs_of(text) == [spec]  # the JSON survives, and cannot close its <script> element
    assert text.count("</script>") == len(html.SCRIPTS) + 2
    assert "a note" in text


def test_images_are_data_urls_captioned_by_revision() -> None:
    images = [html.PageImages("img/cm.png", [("v1", "image/png", b"\x89PNG1"), ("v2", "image/png", b"\x89PNG2")])]
    text = html.page("t", "s", [], images, [])
    assert text.count('<img src="data:image/png;base64,') == 2
    assert "<figcaption>v1</figcaption>" in text and "<figcaption>v2</figcaption>" in text


def test_versions_are_recorded() -> None:
    assert set(html.versions()) == {"vega", "vega-lite", "vega-embed"}


def test_missing_vendored_scripts_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(html, "VENDOR", tmp_path)
    with pytest.raises(MissingDependencyError) as e:
        html.page("t", "s", [], [], [])
    assert "the Vega scripts for plot pages are not in" in e.value.message
    assert "npm" in (e.value.hint or "")


def test_write_is_atomic_and_creates_the_folder(tmp_path: Path) -> None:
    out = html.write(tmp_path / "a" / "b", "index.html", "<p>x</p>")
    assert out.read_text() == "<p>x</p>"
    assert [p.name for p in out.parent.iterdir()] == ["index.html"]
