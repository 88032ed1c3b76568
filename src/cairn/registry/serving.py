"""Serving a model bundle over HTTP (Starlette + uvicorn): POST /predict, GET /health,
GET /metadata, request logging as JSON Lines batches.

This file is also copied into every bundle as `serve.py` and run there where cairn may not be
installed, so it imports only the standard library at the top, and starlette and uvicorn when
serving. The bundle's entry point (`serve: module:function`) is a callable taking a list of
records (dicts) and returning one prediction per record; the model's path is in the
environment variable CAIRN_MODEL_PATH before its module is imported."""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from cairn.errors import MissingDependencyError, ServingError
except ImportError:  # running as a bundle's serve.py without cairn

    class ServingError(Exception):  # type: ignore[no-redef]
        def __init__(self, message: str, hint: str | None = None) -> None:
            super().__init__(message if not hint else f"{message}\n  hint: {hint}")
            self.message, self.hint = message, hint

    MissingDependencyError = ServingError  # type: ignore[misc,assignment]


BUNDLE_FILE = "bundle.json"
EXAMPLE_FILE = "input_example.json"
CODE_DIR = "code"
MODEL_ENV = "CAIRN_MODEL_PATH"
BATCH_LINES = 100  # request-log lines per file at most
BATCH_SECONDS = 1.0  # ... and a file at least this often while requests come in


class BadRequest(ValueError):
    """A request body that does not match the model's input signature."""


def load_bundle(folder: Path) -> dict[str, Any]:
    if folder.is_file():
        raise ServingError(
            f"{folder} is a file, not a bundle folder",
            f"unpack it first (`tar xzf {folder.name}`) and serve the folder it holds",
        )
    try:
        doc = json.loads((folder / BUNDLE_FILE).read_text())
    except FileNotFoundError:
        raise ServingError(
            f"{folder} is not a model bundle (no {BUNDLE_FILE})", "make one: cairn model bundle"
        ) from None
    except ValueError as e:
        raise ServingError(f"{folder / BUNDLE_FILE} is not valid JSON ({e})", "make the bundle again") from None
    if doc.get("format") != 1:
        raise ServingError(f"bundle format {doc.get('format')!r} is not known here", "upgrade, or rebundle")
    return doc


def load_entry(folder: Path, meta: dict[str, Any]) -> Callable[[list[dict]], Any]:
    """Import the bundle's `module:function`; ServingError (with the traceback in `.detail`)
    when it cannot be."""
    spec = meta.get("serve")
    if not spec:
        raise ServingError(
            f"artifact {meta.get('artifact')!r} declares no `serve: module:function` entry point",
            "add one to the artifact in cairn.yaml (see docs/registry.md), commit and register a new version",
        )
    module_name, _, attr = spec.partition(":")
    os.environ[MODEL_ENV] = str((folder / meta["path"]).resolve())
    code = str((folder / CODE_DIR).resolve())
    if code not in sys.path:
        sys.path.insert(0, code)
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except Exception as e:  # user code can raise anything while importing
        err = ServingError(
            f"the serving entry point {spec} cannot be loaded: {type(e).__name__}: {e}",
            "fix the module (run with -v for the traceback), commit and register a new version",
        )
        err.detail = traceback.format_exc()  # type: ignore[attr-defined]
        raise err from None
    if not callable(fn):
        raise ServingError(f"the serving entry point {spec} is not callable", "point `serve:` at a function")
    return fn


_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is beyond the range of a float")
    return value


def loads_strict(data: bytes | str) -> Any:
    """JSON as RFC 8259 has it: Python's NaN, Infinity and overflowing numbers are refused,
    so every request-log line stays JSON that any reader (polars, jq, a browser) parses."""
    return json.loads(data, parse_constant=_no_constant, parse_float=_finite)


def records_of(body: Any, signature: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The records of a request body (a JSON list of records, or {"inputs": [...]}), checked
    against the input signature; BadRequest says what is wrong."""
    if isinstance(body, dict) and "inputs" in body:
        body = body["inputs"]
    if not isinstance(body, list):
        raise BadRequest('the body must be a JSON list of records, or {"inputs": [records]}')
    columns = (signature or {}).get("inputs") or {}
    for i, rec in enumerate(body):
        if not isinstance(rec, dict):
            raise BadRequest(f"record {i} is not an object of column: value")
        missing = [c for c in columns if c not in rec]
        if missing:
            raise BadRequest(f"record {i} lacks column(s) {', '.join(missing)}")
        extra = [c for c in rec if columns and c not in columns]
        if extra:
            raise BadRequest(f"record {i} has unknown column(s) {', '.join(extra)}")
        for col, kind in columns.items():
            if not _TYPES[kind](rec[col]):
                raise BadRequest(f"record {i}: column {col!r} must be {kind}, got {json.dumps(rec[col])}")
    return body


def predict(fn: Callable, records: list[dict[str, Any]]) -> list[Any]:
    out = fn(records)
    out = list(out.tolist() if hasattr(out, "tolist") else out)
    if len(out) != len(records):
        raise ServingError(f"the model returned {len(out)} predictions for {len(records)} records")
    try:
        # checked here, not when the response is written: there it is a bare "Internal Server
        # Error" with a traceback in the server's log, and a NaN would make the request log not JSON
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ServingError(
            f"the model's predictions are not JSON ({e})",
            "return numbers, strings, booleans or lists of them (a numpy array: .tolist()), and no NaN",
        ) from None
    return out


class RequestLog:
    """Inputs and predictions as JSON Lines, in batch files `requests-<ms>-<n>.jsonl` each
    written whole (temp + rename): a monitor reading the folder never sees half a batch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ServingError(
                f"cannot keep the request log in {folder}: {e.strerror}", "give --log-requests a folder you can write"
            ) from None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._last = time.monotonic()

    def add(self, records: list[dict], predictions: list[Any]) -> None:
        now = time.time()
        lines = [
            json.dumps({"time": now, "input": r, "prediction": p}) for r, p in zip(records, predictions, strict=True)
        ]
        with self._lock:
            self._lines.extend(lines)
            due = len(self._lines) >= BATCH_LINES or time.monotonic() - self._last >= BATCH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            self._last = time.monotonic()
        if not lines:
            return
        name = f"requests-{int(time.time() * 1000)}-{os.getpid()}-{next(self._seq)}.jsonl"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.folder / name)


def _web():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "serving needs starlette and uvicorn", "install them: pip install 'cairn[web]'"
        ) from None


def build_app(folder: Path, log_dir: Path | None = None, on_ready: Callable[[], None] | None = None):
    _web()
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    meta = load_bundle(folder)
    fn = load_entry(folder, meta)
    signature = meta.get("signature")
    log = RequestLog(log_dir) if log_dir else None
    about = {k: meta.get(k) for k in ("artifact", "version", "stage", "commit", "oid", "signature", "lineage")}

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse(about)

    async def predict_route(request: Request) -> JSONResponse:
        try:
            body = loads_strict(await request.body())
        except ValueError as e:
            return JSONResponse({"error": f"the body is not valid JSON: {e}"}, status_code=400)
        try:
            records = records_of(body, signature)
        except BadRequest as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        try:
            # small batches run inline: a thread hop costs more than a trivial model
            out = predict(fn, records) if len(records) <= 8 else await run_in_threadpool(predict, fn, records)
        except Exception as e:  # the model's own failure is the client's 500
            reason = e.message if isinstance(e, ServingError) else f"{type(e).__name__}: {e}"
            return JSONResponse({"error": f"the model failed: {reason}"}, status_code=500)
        if log is not None:
            log.add(records, out)
        return JSONResponse({"predictions": out})

    @asynccontextmanager
    async def lifespan(app):
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            if log is not None:
                log.flush()

    routes = [
        Route("/predict", predict_route, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_dir: Path | None = None,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until interrupted; `on_ready(host, port)` once requests are answered (port 0
    picks a free port, which is what on_ready is told)."""
    import errno
    import signal
    import socket

    _web()
    import uvicorn

    if not 0 <= port <= 65535:
        raise ServingError(f"port {port} is not a TCP port", "choose one from 1 to 65535, or 0 for any free port")
    # the bundle and its entry point first: a broken model is the problem to report, not the port
    app = build_app(folder, log_dir, (lambda: on_ready(host, bound)) if on_ready else None)
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says IPPROTO_TCP, and without it every response waits ~40 ms for a delayed ACK
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            hint = "choose another --port (0 picks a free one)"
        elif e.errno == errno.EACCES:
            hint = "ports below 1024 need privileges: choose another --port"
        else:
            hint = "--host must be an address of this machine (127.0.0.1, 0.0.0.0 for all of them)"
        raise ServingError(f"cannot listen on {host}:{port}: {e.strerror}", hint) from None
    # listening before uvicorn serves: it runs the lifespan (our ready signal) before it starts
    # accepting, and a client told "ready" must find connections queued, not refused
    sock.listen(128)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    # SIGTERM (docker stop, kill) is how a server is told to stop: uvicorn shuts down gracefully
    # (the request log's last batch is written), then raises the signal again with the handler it
    # found, so that handler ends the process as a normal stop (exit 0), as Ctrl-C does
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stopped) if main_thread else None
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def check_example(folder: Path) -> int:
    """Call the entry point on the bundle's input example: how many predictions it made."""
    meta = load_bundle(folder)
    example = folder / EXAMPLE_FILE
    if not example.exists():
        raise ServingError("the bundle has no input example", "declare `example:` for the artifact in cairn.yaml")
    try:
        records = records_of(json.loads(example.read_text()), meta.get("signature"))
    except (ValueError, BadRequest) as e:
        raise ServingError(f"the input example does not match the signature: {e}", "fix the example") from None
    fn = load_entry(folder, meta)
    try:
        return len(predict(fn, records))
    except ServingError:
        raise
    except Exception as e:
        raise ServingError(
            f"the entry point {meta['serve']} fails on the input example: {type(e).__name__}: {e}",
            "fix the function or the example, commit and register a new version",
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve this model bundle over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-requests", metavar="DIR", help="write inputs and predictions as JSON Lines here")
    parser.add_argument("--check", action="store_true", help="call the model on the input example and exit")
    args = parser.parse_args(argv)
    folder = Path(__file__).resolve().parent
    try:
        if args.check:
            print(f"ok: {check_example(folder)} prediction(s) for the input example", flush=True)
            return 0

        def ready(host: str, port: int) -> None:
            print(f"serving on http://{host}:{port}", flush=True)

        serve(folder, args.host, args.port, Path(args.log_requests) if args.log_requests else None, ready)
    except ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        detail = getattr(e, "detail", None)
        if detail:
            print(detail, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
