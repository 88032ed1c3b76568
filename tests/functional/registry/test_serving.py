"""Bundles and serving with real HTTP requests against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import tarfile
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

from cairn.errors import ServingError


def http(url: str, body: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_predict_validate_and_log(project, server, stop_server, tmp_path: Path):
    project.cairn("model", "register", "churn")
    project.cairn("model", "assign", "churn", "--stage", "prod")
    logs = tmp_path / "logs"
    proc, base = server("churn@prod", "--log-requests", str(logs), cwd=project.root)

    assert http(f"{base}/health") == (200, {"status": "ok"})
    status, meta = http(f"{base}/metadata")
    assert status == 200 and (meta["artifact"], meta["version"], meta["stage"]) == ("churn", "v0.0.1", "prod")
    assert meta["signature"]["inputs"] == {"tenure": "int", "charges": "float"}
    assert meta["lineage"]["commit"] == meta["commit"]

    records = [{"tenure": 3, "charges": 2.5}, {"tenure": 30, "charges": 1}]
    assert http(f"{base}/predict", json.dumps(records).encode()) == (200, {"predictions": [0, 1]})
    assert http(f"{base}/predict", json.dumps({"inputs": records[:1]}).encode()) == (200, {"predictions": [0]})

    bad = {
        b"{not json": "the body is not valid JSON",
        b'{"rows": []}': 'the body must be a JSON list of records, or {"inputs": [records]}',
        b'[{"tenure": 3}]': "record 0 lacks column(s) charges",
        b'[{"tenure": "3", "charges": 1.0}]': "record 0: column 'tenure' must be int, got \"3\"",
        b'[{"tenure": 3, "charges": 1.0, "x": 1}]': "record 0 has unknown column(s) x",
        b"[3]": "record 0 is not an object of column: value",
    }
    for body, reason in bad.items():
        status, doc = http(f"{base}/predict", body)
        assert status == 400 and reason in doc["error"], (body, doc)

    huge = b'[{"tenure": 1' + b"0" * 400 + b', "charges": 1.0}]'  # valid input the model cannot handle
    status, doc = http(f"{base}/predict", huge)
    assert status == 500 and doc["error"] == "the model failed: OverflowError: int too large to convert to float"

    stop_server(proc)  # the last batch is written on the way out
    lines = [json.loads(ln) for f in sorted(logs.glob("requests-*.jsonl")) for ln in f.read_text().splitlines()]
    assert [(ln["input"], ln["prediction"]) for ln in lines] == [
        (records[0], 0),
        (records[1], 1),
        (records[0], 0),
    ]
    assert not list(logs.glob(".*"))  # no temp file left


def test_entry_point_that_fails_to_import(project, assert_error):
    project.write({"serve_churn.py": b"import no_such_module_anywhere\n"})
    project.commit("broken entry point")
    project.cairn("model", "register", "churn")
    proc = project.cairn("model", "serve", "churn@v0.0.1", "--port", "0", expect=None)
    assert_error(
        proc,
        ServingError,
        "the serving entry point serve_churn:predict cannot be loaded: ModuleNotFoundError: "
        "No module named 'no_such_module_anywhere'",
        "run with -v for the traceback",
    )
    assert "Traceback" not in proc.stderr
    verbose = project.cairn("-v", "model", "serve", "churn@v0.0.1", "--port", "0", expect=None)
    assert "Traceback (most recent call last)" in verbose.stderr and "serve_churn.py" in verbose.stderr

    bundled = project.cairn("model", "bundle", "churn@v0.0.1", "-o", "b", expect=None)
    assert_error(bundled, ServingError, "the bundle's entry point fails its input example: the serving entry point")
    assert not (project.root / "b").exists() and not list(project.root.glob(".b.*"))


def test_entry_point_that_rejects_the_example(project, assert_error):
    project.write({"examples/churn.json": b'[{"tenure": 3}]'})
    project.commit("example without charges")
    project.cairn("model", "register", "churn")
    proc = project.cairn("model", "bundle", "churn", "-o", "b.tar.gz", expect=None)
    assert_error(proc, ServingError, "the input example does not match the signature: record 0 lacks column(s) charges")
    assert not (project.root / "b.tar.gz").exists()


def test_bundle_folder_contents(project):
    project.cairn("model", "register", "churn", "-m", "baseline model")
    project.cairn("model", "assign", "churn", "--stage", "prod")
    doc = project.json("model", "bundle", "churn@prod", "-o", "dist/churn")
    assert doc["checked"] == "ok: 1 prediction(s) for the input example"
    b = project.root / "dist/churn"
    assert sorted(p.name for p in b.iterdir()) == [
        "Dockerfile",
        "MODEL_CARD.md",
        "bundle.json",
        "code",
        "input_example.json",
        "lineage.json",
        "model",
        "requirements.txt",
        "serve.py",
    ]
    meta = json.loads((b / "bundle.json").read_text())
    assert (meta["artifact"], meta["version"], meta["stage"], meta["oid"]) == ("churn", "v0.0.1", "prod", doc["oid"])
    assert (b / "model/churn.bin").read_bytes() == b"threshold 10\n"
    assert (b / "code/serve_churn.py").exists()
    reqs = (b / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("starlette==") for r in reqs) and any(r.startswith("uvicorn==") for r in reqs)
    assert not any(r.lower().startswith("cairn==") for r in reqs)
    assert 'CMD ["python", "serve.py", "--host", "0.0.0.0", "--port", "8080"]' in (b / "Dockerfile").read_text()
    card = (b / "MODEL_CARD.md").read_text()
    assert card.startswith("# churn v0.0.1") and "baseline model" in card and doc["oid"] in card
    assert json.loads((b / "lineage.json").read_text())["target"] == "models/churn.bin"
    again = project.cairn("model", "bundle", "churn@prod", "-o", "dist/churn", expect=None)
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.slow
def test_unpacked_bundle_serves_in_a_fresh_venv(project, server, tmp_path: Path):
    """The bundle runs without cairn: a new virtual environment that sees only the web stack
    (this suite's site-packages through a .pth file, instead of a slow pip install)."""
    project.cairn("model", "register", "churn")
    project.cairn("model", "bundle", "churn@v0.0.1", "-o", str(tmp_path / "churn.tar.gz"))
    with tarfile.open(tmp_path / "churn.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    folder = tmp_path / "unpacked" / "churn"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    (next(env_dir.glob("lib/python*/site-packages")) / "web.pth").write_text(f"{site}\n")
    python = str(env_dir / "bin" / "python")

    _, base = server(cwd=folder, python=python)
    assert http(f"{base}/predict", b'[{"tenure": 30, "charges": 1.5}]') == (200, {"predictions": [1]})
    assert http(f"{base}/metadata")[1]["version"] == "v0.0.1"
