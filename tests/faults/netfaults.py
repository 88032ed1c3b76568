"""A fault-injecting HTTP reverse proxy for tests: it stands between cairn and the moto S3
server (cairn points its remote's `endpoint_url` at the proxy) and spoils requests by a
deterministic schedule, counting what it saw and what it did.

Why a small proxy here rather than mitmproxy: mitmproxy's addon API would do the job, but it
is a large dependency (its own TLS stack, a web UI, dozens of packages) for what is a few dozen
lines of standard library; and a proxy we write decides faults by request number, so a failing
run can be replayed exactly, with no second process to start, wait for and clean up.

Faults (`kind`):
- slowdown: answer 503 SlowDown (S3's "reduce your request rate") without forwarding
- error: answer 500 InternalError without forwarding
- drop: drop the connection mid-request: a request with a body is read half way and the
  connection closed (the server never sees it); one without a body is either closed unanswered
  or, every other time, forwarded and its answer lost (the server did the work, the client
  cannot know)
- truncate: forward, then send the answer's headers (with its true Content-Length) and only
  half of its body before closing, as a connection cut mid-download does
- latency: forward every request after a delay (not a failure; counted as injected)
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KINDS = ("slowdown", "error", "drop", "truncate", "latency")
_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}
_ERRORS = {
    "slowdown": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "error": (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
}


class Schedule:
    """Which requests get a fault. `kind` is one of KINDS, or a tuple of them taken in turn;
    the `every`-th eligible request gets it (1: all, 5: 20%). Eligible: `only(method, path)`
    accepts it (None: all), `after` (method, n) requests were answered first (method "RANGE":
    range reads; None: from the start), and the same request (method, path and range) has had fewer than `per_request`
    faults (None: no cap; a cap below the client's attempts lets every request through in the
    end, so a test cannot fail by bad luck)."""

    def __init__(
        self,
        kind: str | tuple[str, ...] | None,
        every: int = 1,
        per_request: int | None = None,
        after: tuple[str, int] | None = None,
        only: Callable[[str, str], bool] | None = None,
        delay: float = 0.1,
    ) -> None:
        self.kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
        assert all(k in KINDS for k in self.kinds), kind
        self.every, self.per_request, self.after, self.only, self.delay = every, per_request, after, only, delay
        self.injected = 0
        self._seen = 0
        self._answered: Counter[str] = Counter()
        self._faults: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def pick(self, method: str, path: str, range_: str) -> tuple[str | None, int]:
        """The fault for this request (None: none) and its number among the faults."""
        if not self.kinds or (self.only is not None and not self.only(method, path)):
            return None, 0
        ident = (method, path, range_)
        with self._lock:
            if self.after is not None and self._answered[self.after[0]] < self.after[1]:
                return None, 0
            if self.per_request is not None and self._faults[ident] >= self.per_request:
                return None, 0
            self._seen += 1
            if self._seen % self.every:
                return None, 0
            self.injected += 1
            self._faults[ident] += 1
            return self.kinds[(self.injected - 1) % len(self.kinds)], self.injected

    def give_back(self, method: str, path: str, range_: str) -> None:
        """The picked request could not take its fault (no body to cut): the next one gets it."""
        with self._lock:
            self._seen -= 1
            self.injected -= 1
            self._faults[(method, path, range_)] -= 1

    def answered(self, method: str, ranged: bool) -> None:
        with self._lock:
            self._answered[method] += 1
            self._answered["RANGE"] += ranged


class FaultProxy:
    """proxy = FaultProxy(upstream); proxy.start(); cairn talks to proxy.url; proxy.schedule
    may be replaced between commands; proxy.figures() says what happened, proxy.faulted which
    requests the faults hit."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.schedule = Schedule(None)
        self.counts: Counter[str] = Counter()
        self.faulted: list[tuple[str, str, str]] = []  # (kind, method, path)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def use(self, schedule: Schedule) -> Schedule:
        """Apply `schedule` from now on, with the counts started afresh."""
        with self._lock:
            self.schedule = schedule
            self.counts.clear()
            self.faulted = []
        return schedule

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def hit(self, kind: str, method: str, path: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.faulted.append((kind, method, path))

    def figures(self) -> dict[str, int]:
        """requests seen, faults injected (by kind), requests answered in full."""
        with self._lock:
            return dict(self.counts)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients expect
        upstream: http.client.HTTPConnection | None = None

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if not size:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            headers["Content-Length"] = str(len(body))
            for attempt in (0, 1):  # a kept-alive upstream connection may have been closed
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream.getresponse()
                    data = resp.read()
                    return resp.status, resp.reason, resp.getheaders(), data
                except (OSError, http.client.HTTPException):
                    self.upstream.close()
                    self.upstream = None
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def _send(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, cut: bool) -> None:
            lines = [f"HTTP/1.1 {status} {reason}"]
            length = None
            for k, v in headers:
                if k.lower() in _HOP:
                    continue
                if k.lower() == "content-length":
                    length = v
                    continue
                lines.append(f"{k}: {v}")
            # a HEAD answer carries the length of the body it does not send
            lines.append(f"Content-Length: {length if self.command == 'HEAD' and length else len(body)}")
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if self.command != "HEAD":  # an answer to HEAD has no body, whatever its length says
                self.wfile.write(body[: len(body) // 2] if cut else body)
            self.wfile.flush()

        def _handle(self) -> None:
            proxy.count("requests")
            schedule = proxy.schedule
            ident = (self.command, self.path, self.headers.get("Range", ""))
            kind, nth = schedule.pick(*ident)
            if kind == "latency":
                time.sleep(schedule.delay)
            elif kind == "drop":
                length = int(self.headers.get("Content-Length") or 0)
                if length:  # half the body read, then gone: the server never sees the request
                    self.rfile.read(length // 2)
                    return self._dropped(kind)
                if nth % 2:
                    return self._dropped(kind)
                self._forward(self._read_body())  # done upstream, the answer lost
                return self._dropped(kind)
            body = self._read_body()
            if kind in _ERRORS:
                status, reason, code, message = _ERRORS[kind]
                xml = (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
                ).encode()
                proxy.hit(kind, self.command, self.path)
                self.close_connection = False
                return self._send(status, reason, [("Content-Type", "application/xml")], xml, cut=False)
            status, reason, headers, data = self._forward(body)
            cut = kind == "truncate" and len(data) >= 2 and self.command != "HEAD"
            if kind == "truncate" and not cut:
                schedule.give_back(*ident)
            if kind == "latency" or cut:
                proxy.hit(kind, self.command, self.path)
            if not cut:
                proxy.count("answered")
                schedule.answered(self.command, bool(ident[2]))
            self._send(status, reason, headers, data, cut)
            if cut:
                self.close_connection = True

        def _dropped(self, kind: str) -> None:
            proxy.hit(kind, self.command, self.path)
            self.close_connection = True

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    return Handler
