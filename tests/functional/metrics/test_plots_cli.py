"""plots show / plots diff: the self-contained page, its specs and data, PNGs, images, bad fields.

No browser runs here (Chromium is not installed on the dev machines): the page is checked for
the embedded scripts and for specs that parse, with the right data and fields; PNGs for being
real PNGs. vl-convert, which renders the PNGs, compiles every spec with Vega-Lite itself."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import cairn.metrics.html as page_mod

SPEC = re.compile(r'<script type="application/json" id="spec-(\d+)">(.*?)</script>', re.S)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def specs(page: Path) -> list[dict]:
    return [json.loads(m.group(2)) for m in SPEC.finditer(page.read_text())]


def test_show_writes_a_self_contained_page(proj) -> None:
    proc = proj.cairn("plots", "show")
    assert proc.stdout == "Wrote 3 plots to cairn_plots/index.html\n"
    page = proj.root / "cairn_plots" / "index.html"
    text = page.read_text()
    for name in page_mod.SCRIPTS:  # the package's vendored copies, inline
        assert (page_mod.VENDOR / name).read_text(encoding="utf-8").strip()[-300:] in text
    assert re.search(r"<script[^>]+src=", text) is None and "<link" not in text
    assert "vegaEmbed(" in text
    confusion, loss = specs(page)
    assert confusion["title"] == "Confusion" and confusion["layer"][0]["mark"] == "rect"
    assert confusion["encoding"]["x"]["field"] == "actual" and confusion["encoding"]["y"]["field"] == "predicted"
    assert len(confusion["data"]["values"]) == 4
    assert loss["title"] == "Training loss" and loss["mark"]["type"] == "line"
    assert loss["encoding"]["x"] == {"field": "epoch", "type": "quantitative", "title": "Epoch"}
    assert loss["encoding"]["y"]["field"] == "loss"
    assert [(r["epoch"], r["loss"]) for r in loss["data"]["values"]] == [
        (0, 0.97), (1, 0.47), (2, 0.3033), (3, 0.22), (4, 0.17),
    ]  # fmt: skip
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(PNG_MAGIC)


def test_show_selected_files_and_png(proj) -> None:
    proj.write({"extra/acc.tsv": b"step\tacc\n0\t0.5\n1\t0.75\n"})
    proc = proj.cairn("plots", "show", "loss.csv", "extra/acc.tsv", "--png", "-o", "out")
    assert proc.stdout.splitlines() == [
        "Wrote 2 plots to out/index.html",
        "  out/loss.csv.png",
        "  out/extra_acc.tsv.png",
    ]
    for name in ("loss.csv.png", "extra_acc.tsv.png"):
        data = (proj.root / "out" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    acc = specs(proj.root / "out" / "index.html")[1]
    assert acc["encoding"]["x"]["field"] == "step" and acc["encoding"]["y"]["field"] == "acc"
    # from a subfolder, paths are relative to it
    sub = proj.root / "extra"
    out = json.loads(proj.cairn("plots", "show", "acc.tsv", "--json", cwd=sub).stdout)
    assert [c["id"] for c in out["charts"]] == ["extra/acc.tsv"]
    assert out["page"] == "cairn_plots/index.html" and (sub / "cairn_plots" / "index.html").exists()


def test_diff_overlays_revisions(proj) -> None:
    data = proj.json("plots", "diff", "v1", "v3")
    assert [r["rev"] for r in data["revisions"]] == ["v1", "v3"]
    charts = {c["id"]: c for c in data["charts"]}
    loss = charts["loss.csv"]
    assert loss["revisions"] == ["v1", "v3"]
    values = loss["spec"]["data"]["values"]
    assert [r["cairn_rev"] for r in values] == ["v1"] * 3 + ["v3"] * 5
    assert loss["spec"]["encoding"]["color"]["field"] == "cairn_rev"
    assert charts["confusion.csv"]["spec"]["facet"]["column"]["field"] == "cairn_rev"
    assert data["images"] == [{"id": "images/sample.png", "revisions": ["v1", "v3"]}]
    text = (proj.root / data["page"]).read_text()
    assert len(re.findall(r'<img src="data:image/png', text)) == 2
    assert "<figcaption>v1</figcaption>" in text and "<figcaption>v3</figcaption>" in text
    # default: HEAD against the workspace
    proj.write({"loss.csv": b"epoch,loss\n0,2\n"})
    default = proj.json("plots", "diff", "-t", "loss.csv")
    assert [c["revisions"] for c in default["charts"]] == [["HEAD", "workspace"]]


def test_a_plot_field_the_data_lacks(proj) -> None:
    text = (proj.root / "cairn.yaml").read_text().replace("y: loss", "y: accuracy")
    proj.write({"cairn.yaml": text.encode()})
    proc = proj.cairn("plots", "show", expect=2)
    assert proc.stdout == "Wrote 2 plots to cairn_plots/index.html\n"  # the others are drawn
    assert (
        "error: plot loss.csv: field 'accuracy' is not in the data (in the workspace); its columns: epoch, loss"
        in proc.stderr
    )
    assert "hint: set x and y for this plot in cairn.yaml `plots:`" in proc.stderr


def test_unknown_template_and_unknown_file(proj) -> None:
    text = (proj.root / "cairn.yaml").read_text().replace("template: confusion", "template: pie")
    proj.write({"cairn.yaml": text.encode()})
    proc = proj.cairn("plots", "show", expect=2)
    assert "error: plot confusion.csv: unknown template 'pie'" in proc.stderr
    proc = proj.cairn("plots", "show", "nope.csv", expect=2)
    assert "error: nope.csv does not exist in any of the revisions shown" in proc.stderr


def test_an_out_folder_that_is_a_file(proj, assert_error) -> None:
    from cairn.errors import PathError

    proj.write({"taken": b"a file"})
    proc = proj.cairn("plots", "show", "-o", "taken", expect=None)
    assert_error(proc, PathError, "cannot write the page into taken: it (or a folder above it) is a file")
    assert (proj.root / "taken").read_bytes() == b"a file"


def test_no_plots_declared(repo) -> None:
    """As DVC: nothing to draw writes no page (it was a 0.85 MB page of nothing)."""
    proc = repo.cairn("plots", "show")
    assert proc.stdout == "No plots to draw: no page written.\n"
    assert "note: no plots: declare them in cairn.yaml" in proc.stderr
    assert not (repo.root / "cairn_plots").exists()
    doc = json.loads(repo.cairn("plots", "show", "--json").stdout)
    assert doc["page"] is None and doc["png"] == [] and not (repo.root / "cairn_plots").exists()
