"""A real S3 endpoint for tests: moto's server on 127.0.0.1, not a mock object (DESIGN.md, Tests).

`moto_endpoint` starts one in-process `ThreadedMotoServer` per test session (shared by every
conftest that imports the fixture); `bucket` creates a fresh bucket per test. `auth_moto` runs a
second server in its own process with authentication switched on, for wrong-credential tests:
moto checks signatures only after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated requests, a
setting read once per process, so it cannot share the process of the open server.

Conftests import the fixtures they need: `from s3server import bucket, moto_endpoint`."""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

KEY_ID = "testing"
SECRET = "testing"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the moto server exited early ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {timeout} s")


def s3_client(endpoint: str, key_id: str = KEY_ID, secret: str = SECRET):
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key_id, aws_secret_access_key=secret
    )


def new_bucket(endpoint: str) -> str:
    name = f"cairn-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


_server: dict[str, object] = {}


def _start_threaded() -> str:
    """The session's moto server (started on first use, stopped when the process exits)."""
    if "endpoint" not in _server:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        wait_for_port(port)
        atexit.register(server.stop)
        _server["endpoint"] = f"http://127.0.0.1:{port}"
    return str(_server["endpoint"])


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """http://127.0.0.1:PORT of a moto S3 server accepting any credentials."""
    return _start_threaded()


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A new, empty bucket on the moto server."""
    return new_bucket(moto_endpoint)


@dataclass
class AuthServer:
    endpoint: str
    bucket: str
    key_id: str
    secret: str


# Requests moto serves before it starts checking credentials: create the bucket, the IAM user,
# its access key and its policy.
_SETUP_REQUESTS = 4


@pytest.fixture(scope="session")
def auth_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A moto server that checks credentials, with one bucket and one IAM user allowed everything."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto-auth") / "server.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_SETUP_REQUESTS)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        wait_for_port(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        import boto3

        name = f"cairn-auth-{uuid.uuid4().hex[:8]}"
        s3_client(endpoint, "setup", "setup").create_bucket(Bucket=name)
        iam = boto3.client(
            "iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup"
        )
        iam.create_user(UserName="cairn")
        key = iam.create_access_key(UserName="cairn")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="cairn", PolicyName="all", PolicyDocument=json.dumps(policy))
        yield AuthServer(endpoint, name, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.kill()
        proc.wait()
