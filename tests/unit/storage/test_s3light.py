"""The one-request S3 reader a push with nothing to do uses (cairn.storage.s3light): requests
signed by botocore, real reads from a moto server, and every case it leaves to the full client."""

from __future__ import annotations

import pytest
from s3server import KEY_ID, SECRET, s3_client

from cairn.storage import s3light


def test_requests_are_signed_by_botocore_with_the_given_scope():
    url = "https://examplebucket.s3.amazonaws.com/test.txt"
    headers = s3light.sign(url, "eu-west-1", "AKIDEXAMPLE", "secret", "tok")
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/s3/aws4_request, SignedHeaders=" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "tok"
    assert "X-Amz-Date" in headers


@pytest.fixture
def clean_aws_env(monkeypatch):
    """No AWS or proxy settings from the machine running the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


def _options(endpoint: str, **extra: str) -> dict[str, str]:
    return {"endpoint_url": endpoint, "access_key_id": KEY_ID, "secret_access_key": SECRET, **extra}


def test_reads_a_key_from_a_real_server(clean_aws_env, moto_endpoint, bucket):
    s3_client(moto_endpoint).put_object(Bucket=bucket, Key="a prefix/cairn-remote.json", Body=b'{"version": 1}')
    assert s3light.get(_options(moto_endpoint), bucket, "a prefix/cairn-remote.json") == b'{"version": 1}'
    # credentials from the environment, a session token, a region: all signed along
    clean_aws_env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    clean_aws_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    clean_aws_env.setenv("AWS_SESSION_TOKEN", "token")
    options = {"endpoint_url": moto_endpoint, "region": "eu-west-1"}
    assert s3light.get(options, bucket, "a prefix/cairn-remote.json") == b'{"version": 1}'


def test_anything_but_a_plain_answer_is_left_to_the_full_client(clean_aws_env, moto_endpoint, bucket):
    with pytest.raises(s3light.Unavailable, match="HTTP 404"):
        s3light.get(_options(moto_endpoint), bucket, "missing.json")
    with pytest.raises(s3light.Unavailable, match="HTTP 404"):
        s3light.get(_options(moto_endpoint), "no-such-bucket-here", "cairn-remote.json")
    with pytest.raises(s3light.Unavailable, match="no answer"):
        s3light.get(_options("http://127.0.0.1:9"), bucket, "cairn-remote.json")


@pytest.mark.parametrize(
    ("options", "env", "reason"),
    [
        ({"profile": "dev"}, {}, "profile or a proxy"),
        ({}, {"HTTPS_PROXY": "http://proxy:3128"}, "profile or a proxy"),
        ({"access_key_id": None}, {"AWS_PROFILE": "dev"}, "profile named in the environment"),
        ({"access_key_id": None}, {}, "no credentials"),
        ({"endpoint_url": None}, {"AWS_ENDPOINT_URL_S3": "http://elsewhere"}, "endpoint set in the environment"),
        ({"endpoint_url": "ftp://host"}, {}, "endpoint this module does not handle"),
        ({"endpoint_url": "http://host/base/path"}, {}, "endpoint this module does not handle"),
        ({"endpoint_url": None}, {}, "not a host name"),  # with dots: TLS to bucket.s3... would fail
    ],
)
def test_cases_only_the_full_client_handles(clean_aws_env, options, env, reason):
    for name, value in env.items():
        clean_aws_env.setenv(name, value)
    opts = {k: v for k, v in {**_options("http://127.0.0.1:9"), **options}.items() if v is not None}
    with pytest.raises(s3light.Unavailable, match=reason):
        s3light.get(opts, "my.dotted.bucket", "cairn-remote.json")
