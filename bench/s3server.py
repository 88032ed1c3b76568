"""A moto S3 server on 127.0.0.1 for the S3 workloads (W7-W9), run from the bench's moto venv.

Before every S3 run the server's state is wiped (POST /moto-api/reset) and the bucket made
again, so each run starts against an empty remote and moto's memory does not grow run by run.
The credentials are moto's dummy ones. Standard library only.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from envs import Venv

BUCKET = "cairn-bench"
REGION = "us-east-1"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self, env: Venv, log: Path) -> None:
        self._env = env
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = _free_port()
        with self._log.open("ab") as out:
            self._proc = subprocess.Popen(
                [str(self._env.python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}; see {self._log}")
            try:
                self._request("GET", "/moto-api/")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within 30 s")

    def _request(self, method: str, path: str) -> None:
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method != "GET" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset(self) -> None:
        """Empty the server and make the bucket again."""
        self._request("POST", "/moto-api/reset")
        self._request("PUT", f"/{BUCKET}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
