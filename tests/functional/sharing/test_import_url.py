"""cairn import-url and update from a real HTTP server on 127.0.0.1 (one file with an ETag, one
without any version information), from S3 (moto, a versioned bucket) and from local paths."""

from __future__ import annotations

import http.server
import threading

import pytest
from emulators import azurite, fake_gcs  # noqa: F401 - fixtures
from s3server import s3_client

from cairn.errors import RemoteAuthError, RemoteKeyMissingError, RemoteUnreachableError, WouldLoseDataError

from .conftest import S3_ENV


class Site:
    """A web server whose files and headers a test changes; it logs every request."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str | None]] = {}  # path -> (body, ETag or None)
        self.log: list[tuple[str, str]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body: bool) -> None:
                site.log.append((self.command, self.path))
                if self.path not in site.files:
                    self.send_error(404)
                    return
                data, etag = site.files[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._answer(False)

            def do_GET(self) -> None:
                self._answer(True)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def gets(self, path: str) -> int:
        return sum(1 for m, p in self.log if m == "GET" and p == path)


@pytest.fixture
def site():
    s = Site()
    yield s
    s.server.shutdown()
    s.server.server_close()


def test_http_with_an_etag_downloads_again_only_when_it_changes(app, site):
    site.files["/data.csv"] = (b"a,b\n1,2\n", '"v1"')
    proc = app.cairn("import-url", f"{site.url}/data.csv")
    assert proc.stderr == ""  # an ETag: no warning
    assert (app.root / "data.csv").read_bytes() == b"a,b\n1,2\n"
    source = app.pointer("data.csv")["source"]
    assert source == {"version": 1, "type": "url", "url": f"{site.url}/data.csv", "etag": '"v1"', "size": 8}
    app.commit("import data.csv")

    assert "data.csv: up to date (the source reports the same version)" in app.cairn("update").stdout
    assert site.gets("/data.csv") == 1  # only the import downloaded it
    site.files["/data.csv"] = (b"a,b\n3,4\n5,6\n", '"v2"')
    assert "data.csv: import behind its source" in app.cairn("status").stdout
    app.cairn("update", "data.csv")
    assert (app.root / "data.csv").read_bytes() == b"a,b\n3,4\n5,6\n"
    assert app.pointer("data.csv")["source"]["etag"] == '"v2"'


def test_http_without_version_information_compares_contents(app, site, assert_error):
    site.files["/plain.txt"] = (b"plain v1", None)
    proc = app.cairn("import-url", f"{site.url}/plain.txt", "plain.txt")
    assert (
        f"warning: {site.url}/plain.txt gave no ETag, version id or modification time: `cairn update` will download "
        "it again and compare its contents to find out whether it changed"
    ) in proc.stderr
    out = app.cairn("update").stdout
    assert "plain.txt: up to date (the source's contents are unchanged (compared byte for byte))" in out
    site.files["/plain.txt"] = (b"plain v2", None)
    (app.root / "plain.txt").chmod(0o644)
    (app.root / "plain.txt").write_bytes(b"my edit")
    proc = app.cairn("update", expect=None)
    assert_error(proc, WouldLoseDataError, "plain.txt has changes in the workspace", "cairn update --force plain.txt")
    assert (app.root / "plain.txt").read_bytes() == b"my edit"
    app.cairn("update", "--force")
    assert (app.root / "plain.txt").read_bytes() == b"plain v2"


def test_http_errors(app, site, assert_error):
    proc = app.cairn("import-url", f"{site.url}/missing.bin", expect=None)
    assert_error(proc, RemoteKeyMissingError, f"{site.url}/missing.bin: not found (HTTP 404)")
    closed = site.url.rsplit(":", 1)[0] + ":9"  # discard port: nothing listens
    proc = app.cairn("import-url", f"{closed}/x.bin", expect=None)
    assert_error(proc, RemoteUnreachableError, f"cannot reach {closed}/x.bin", "check the URL and your network")
    assert not (app.root / "x.bin.cairn").exists() and not (app.root / "missing.bin").exists()


def test_s3_versioned_object(app, moto_endpoint, assert_error):
    client = s3_client(moto_endpoint)
    bucket = f"urls-{app.root.parent.name[-12:].lower().replace('_', '-')}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="raw/table.parquet", Body=b"table v1")
    # the endpoint comes from this repository's remote for the bucket, the credentials from the environment
    app.cairn("remote", "add", "lake", f"s3://{bucket}/raw")
    app.cairn("remote", "modify", "lake", "endpoint_url", moto_endpoint)
    # without credentials: remote-auth (as docs/errors.md says), and the hint says where they go
    proc = app.cairn("import-url", f"s3://{bucket}/raw/table.parquet", "table.parquet", expect=None)
    assert_error(proc, RemoteAuthError, "access denied while", "cairn remote modify --local NAME access_key_id")
    assert not (app.root / "table.parquet.cairn").exists()
    app.cairn("import-url", f"s3://{bucket}/raw/table.parquet", "table.parquet", env=S3_ENV)
    source = app.pointer("table.parquet")["source"]
    first = client.head_object(Bucket=bucket, Key="raw/table.parquet")
    assert source["version_id"] == first["VersionId"] and source["etag"] == first["ETag"]
    client.put_object(Bucket=bucket, Key="raw/table.parquet", Body=b"table v2")
    app.cairn("update", env=S3_ENV)
    assert (app.root / "table.parquet").read_bytes() == b"table v2"
    assert app.pointer("table.parquet")["source"]["version_id"] != first["VersionId"]
    # a folder (a prefix): its version is a digest of its objects' versions
    client.put_object(Bucket=bucket, Key="raw/part/b.csv", Body=b"b")
    app.cairn("import-url", f"s3://{bucket}/raw", "raw", env=S3_ENV)
    assert (app.root / "raw" / "part" / "b.csv").read_bytes() == b"b"
    assert (app.root / "raw" / "table.parquet").read_bytes() == b"table v2"
    assert app.pointer("raw")["source"]["etag"].startswith("listing-")
    assert "raw: up to date" in app.cairn("update", "raw", env=S3_ENV).stdout
    client.put_object(Bucket=bucket, Key="raw/part/c.csv", Body=b"c")
    out = app.cairn("status", env=S3_ENV).stdout
    assert "raw: import behind its source" in out
    assert "Data is up to date" not in out and "`cairn update` brings the imports that are behind" in out


def test_local_folder_no_download_then_update(app, tmp_path):
    src = tmp_path / "exports"
    (src / "a").mkdir(parents=True)
    (src / "a" / "one.txt").write_bytes(b"one")
    (src / "two.txt").write_bytes(b"two")
    proc = app.cairn("import-url", src, "in/exports", "--no-download")
    assert proc.stdout.endswith("Commit it: git add in/exports.cairn in/.gitignore\n")
    # a moved import keeps its source: `move` used to write the pointer without it
    app.cairn("move", "in/exports", "exports")
    assert not (app.root / "exports").exists()
    recorded = app.pointer("exports")
    assert recorded["files"] == 2 and recorded["source"]["url"] == str(src)
    assert recorded["source"]["etag"].startswith("listing-")
    app.cairn("update")
    assert (app.root / "exports" / "a" / "one.txt").read_bytes() == b"one"
    assert app.pointer("exports")["oid"] == recorded["oid"]  # the hash without download was right
    (src / "two.txt").write_bytes(b"two, edited")
    app.cairn("update", "exports")
    assert (app.root / "exports" / "two.txt").read_bytes() == b"two, edited"
    assert app.json("status")["paths"][0]["state"] == "unchanged"


@pytest.mark.parametrize("kind", ["gs", "az"])
def test_gcs_and_azure_objects(app, kind, request):
    """The version information each service gives (GCS: generation and ETag; Azure: ETag and
    last-modified), read through the same storage settings as a remote of this repository."""
    if kind == "gs":
        gcs = request.getfixturevalue("fake_gcs")
        bucket = gcs.new_bucket()
        gcs.write(bucket, "raw/t.csv", b"v1")
        app.cairn("remote", "add", "lake", f"gs://{bucket}/raw")
        app.cairn("remote", "modify", "lake", "endpoint_url", gcs.endpoint)
        app.cairn("remote", "modify", "lake", "token", "anon", "--local")

        def put(data: bytes) -> None:
            gcs.write(bucket, "raw/t.csv", data)
    else:
        azurite = request.getfixturevalue("azurite")
        bucket = azurite.new_container()
        blobs = azurite.client().get_container_client(bucket)
        blobs.upload_blob("raw/t.csv", b"v1")
        app.cairn("remote", "add", "lake", f"az://{bucket}/raw")
        app.cairn("remote", "modify", "lake", "connection_string", azurite.connection_string, "--local")

        def put(data: bytes) -> None:
            blobs.upload_blob("raw/t.csv", data, overwrite=True)

    app.cairn("import-url", f"{kind}://{bucket}/raw/t.csv", "t.csv")
    assert (app.root / "t.csv").read_bytes() == b"v1"
    source = app.pointer("t.csv")["source"]
    assert source["etag"] and source["size"] == 2 and source["mtime"]
    if kind == "gs":
        assert source["version_id"]  # the object's generation
    assert "t.csv: up to date (the source reports the same version)" in app.cairn("update").stdout
    put(b"v2!")
    app.cairn("update")
    assert (app.root / "t.csv").read_bytes() == b"v2!"
