"""S3 through fsspec on a real moto server: both upload paths (one streamed request, parts),
and that opening a storage loads no client until it is used."""

from __future__ import annotations

import os
import subprocess
import sys

from s3server import KEY_ID, SECRET

from cairn.storage import fsspec as fsspec_storage


def _storage(endpoint: str, bucket: str) -> fsspec_storage.FsspecStorage:
    options = {"endpoint_url": endpoint, "access_key_id": KEY_ID, "secret_access_key": SECRET}
    return fsspec_storage.FsspecStorage(f"s3://{bucket}/prefix", options)


def test_files_beyond_the_streamed_size_go_up_in_parts(moto_endpoint, bucket, tmp_path, monkeypatch):
    data = os.urandom(11 * 1024 * 1024 + 7)  # 3 parts of 5 MiB (the last one short)
    src = tmp_path / "big"
    src.write_bytes(data)
    storage = _storage(moto_endpoint, bucket)
    storage.put_file("streamed", str(src))
    monkeypatch.setattr(fsspec_storage, "_STREAMED_PUT", 1024 * 1024)
    storage.put_file("in-parts", str(src))
    for key in ("streamed", "in-parts"):
        assert storage.get_bytes(key) == data
    assert dict(storage.list("")) == {"streamed": len(data), "in-parts": len(data)}


def test_opening_a_storage_loads_no_s3_client(moto_endpoint, bucket):
    code = (
        "import sys\n"
        "from cairn.storage.fsspec import FsspecStorage\n"
        f"s = FsspecStorage('s3://{bucket}/p', {{'endpoint_url': {moto_endpoint!r}}})\n"
        "assert 's3fs' not in sys.modules and 'botocore' not in sys.modules\n"
        "list(s.list('x'))\n"
        "assert 's3fs' in sys.modules\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_a_403_inside_a_port_or_an_id_is_not_access_denied() -> None:
    from cairn.errors import RemoteAuthError
    from cairn.storage.fsspec import _translate

    dropped = ConnectionError(
        'Connection was closed before we received a valid response from endpoint URL: "http://127.0.0.1:40393/b/'
        'packs/d0cd403e.pack".'
    )
    err = _translate(dropped, "s3://b/p")
    assert not isinstance(err, RemoteAuthError) and "cannot reach the storage" in str(err)
    denied = _translate(Exception("An error occurred (403) when calling the GetObject operation"), "s3://b/p")
    assert isinstance(denied, RemoteAuthError) and "access denied" in str(denied)
