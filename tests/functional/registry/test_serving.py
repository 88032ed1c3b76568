"""Bundles and serving with real HTTP requests against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import socket
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
        # not JSON (RFC 8259), though Python reads them: they would make the request log unreadable
        b'[{"tenure": 3, "charges": NaN}]': "the body is not valid JSON: NaN is not a JSON number",
        b'[{"tenure": 3, "charges": -Infinity}]': "the body is not valid JSON: -Infinity is not a JSON number",
        b'[{"tenure": 3, "charges": 1e999}]': "the body is not valid JSON: 1e999 is beyond the range of a float",
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
    project.json("model", "bundle", "churn@prod", "-o", "dist/churn", "--force")  # a bundle is replaced
    # but --force never deletes a folder of other files: `-o dist` names the folder of bundles
    (project.root / "dist/notes.txt").write_text("release notes")
    wide = project.cairn("model", "bundle", "churn@prod", "-o", "dist", "--force", expect=None)
    assert wide.returncode == 2 and "is a folder that is not a model bundle" in wide.stderr
    assert (project.root / "dist/notes.txt").exists() and (project.root / "dist/churn/bundle.json").exists()


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
    import starlette

    site = Path(starlette.__file__).parent.parent  # where the web stack is, whatever the venv's layout
    (next(env_dir.glob("lib/python*/site-packages")) / "web.pth").write_text(f"{site}\n")
    python = str(env_dir / "bin" / "python")

    _, base = server(cwd=folder, python=python)
    assert http(f"{base}/predict", b'[{"tenure": 30, "charges": 1.5}]') == (200, {"predictions": [1]})
    assert http(f"{base}/metadata")[1]["version"] == "v0.0.1"


def test_sigterm_stops_a_server_as_ctrl_c_does(project, server, tmp_path: Path):
    """`docker stop` and `kill` send SIGTERM: the server shuts down gracefully, writes the last
    batch of its request log and exits 0, without the message of an interrupted command."""
    project.cairn("model", "register", "churn")
    project.cairn("model", "bundle", "churn@v0.0.1", "-o", "dist/churn")
    for label, kwargs in (("cairn", {"cwd": project.root}), ("serve.py", {"cwd": project.root / "dist/churn"})):
        logs = tmp_path / f"logs-{label}"
        if label == "cairn":
            proc, base = server("churn@v0.0.1", "--log-requests", str(logs), **kwargs)
        else:
            proc, base = server("--log-requests", str(logs), python=sys.executable, **kwargs)
        assert http(f"{base}/predict", b'[{"tenure": 30, "charges": 1.5}]') == (200, {"predictions": [1]})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (label, out, err)
        assert "interrupted" not in err and "Traceback" not in err, (label, err)
        lines = [json.loads(ln) for f in logs.glob("requests-*.jsonl") for ln in f.read_text().splitlines()]
        assert [ln["prediction"] for ln in lines] == [1], label


def test_serve_outside_a_repository_names_bundle(tmp_path: Path, run_cairn):
    job = tmp_path / "job"
    job.mkdir()
    proc = run_cairn("model", "serve", "churn@prod", "--port", "0", cwd=job, expect=None)
    assert proc.returncode == 3 and "serve an unpacked bundle with --bundle DIR" in proc.stderr


def test_serve_bad_options(project, assert_error):
    project.cairn("model", "register", "churn")
    project.cairn("model", "bundle", "churn@v0.0.1", "-o", "churn.tar.gz")
    run = project.cairn
    for args in (("churn@v0.0.1", "--port", "99999"), ("--bundle", "churn.tar.gz", "--port", "99999")):
        proc = run("model", "serve", *args, expect=None)
        assert "Traceback" not in proc.stderr
        if "--bundle" not in args:
            assert_error(proc, ServingError, "port 99999 is not a TCP port", "0 for any free port")
    # the packed bundle is named as such (the bundle is read before the port is taken)
    assert_error(
        run("model", "serve", "--bundle", "churn.tar.gz", "--port", "0", expect=None),
        ServingError,
        "churn.tar.gz is a file, not a bundle folder",
        "tar xzf churn.tar.gz",
    )
    # an address this machine does not have (TEST-NET-1) is a --host problem, not a --port one
    assert_error(
        run("model", "serve", "churn@v0.0.1", "--host", "192.0.2.1", "--port", "0", expect=None),
        ServingError,
        "cannot listen on 192.0.2.1:0",
        "--host must be an address of this machine",
    )
    (project.root / "notes.txt").write_text("a file, not a folder")
    for where, reason in (("notes.txt", "File exists"), ("notes.txt/logs", "Not a directory")):
        assert_error(
            run("model", "serve", "churn@v0.0.1", "--port", "0", "--log-requests", where, expect=None),
            ServingError,
            f"cannot keep the request log in {project.root / where}: {reason}",
            "a folder you can write",
        )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        assert_error(
            run("model", "serve", "churn@v0.0.1", "--port", port, expect=None),
            ServingError,
            f"cannot listen on 127.0.0.1:{port}",
            "choose another --port",
        )


def test_packed_bundle_names_itself_and_leaves_nothing_beside(project):
    """The .tar.gz is built in the bundle's scratch folder: its gzip header names the archive
    (`gunzip -N` restores churn.tar, not a temporary name) and no part file sits beside it."""
    project.cairn("model", "register", "churn")
    project.cairn("model", "bundle", "churn", "-o", "dist/churn.tar.gz")
    data = (project.root / "dist/churn.tar.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[3] & 0x08  # gzip, with the original name
    assert data[10 : data.index(b"\0", 10)] == b"churn.tar"
    assert sorted(p.name for p in (project.root / "dist").iterdir()) == ["churn.tar.gz"]
    with tarfile.open(project.root / "dist/churn.tar.gz") as tar:
        assert "churn/bundle.json" in tar.getnames()


NOT_JSON = """\
def predict(records):
    return [float("nan") if r["tenure"] == 99 else {1} if r["tenure"] == 98 else 0 for r in records]
"""


def test_predictions_that_are_not_json(project, server, stop_server, assert_error):
    """A NaN or an object the model returns is its failure (500 with the reason), not a bare
    'Internal Server Error' with a traceback in the server's log; `bundle` checks the example's."""
    project.write({"serve_churn.py": NOT_JSON.encode()})
    project.commit("a model that can answer NaN")
    project.cairn("model", "register", "churn")
    proc, base = server("churn@v0.0.1", cwd=project.root)
    status, doc = http(f"{base}/predict", b'[{"tenure": 99, "charges": 1.0}]')
    assert status == 500 and doc["error"] == (
        "the model failed: the model's predictions are not JSON (Out of range float values are not JSON compliant)"
    )
    status, doc = http(f"{base}/predict", b'[{"tenure": 98, "charges": 1.0}]')
    assert status == 500 and "Object of type set is not JSON serializable" in doc["error"]
    assert http(f"{base}/predict", b'[{"tenure": 3, "charges": 1.0}]') == (200, {"predictions": [0]})
    _, err = stop_server(proc)
    assert "Traceback" not in err

    project.write({"examples/churn.json": b'[{"tenure": 98, "charges": 2.5}]'})
    project.commit("an example the model answers with a set")
    project.cairn("model", "register", "churn")
    assert_error(
        project.cairn("model", "bundle", "churn", "-o", "b", expect=None),
        ServingError,
        "the model's predictions are not JSON (Object of type set is not JSON serializable)",
    )
    assert not (project.root / "b").exists()
