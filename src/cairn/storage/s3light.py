"""One signed S3 GET of a small key, without s3fs.

A push with nothing to do reads one small key (the remote's generation, docs/remotes.md) and
nothing else; importing s3fs, aiobotocore and aiohttp to send that one request costs ~0.3 s,
most of such a command. This module signs the request with botocore's own SigV4 signer
(botocore comes with s3fs; its signer alone imports in ~60 ms) and sends it with http.client.

It answers only in the plain case: credentials given in the remote's settings or in the
environment variables, no profile, no proxy, a bucket name usable in a host name (AWS_CA_BUNDLE
is honoured). Anything else, and any answer but 200 (wrong region, denied, missing key, a network
error), raises `Unavailable`, and the caller asks the full client instead, which reports errors
as usual. So this path can make cairn faster, never give a different answer."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote, urlsplit

_TIMEOUT = 5.0
# Settings the full client would honour and this module does not.
_ENV_PROFILE = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_ENV_ENDPOINT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
_ENV_NETWORK = (
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class Unavailable(Exception):
    """This request cannot be answered here; use the full client."""


def get(options: dict[str, Any], bucket: str, key: str) -> bytes:
    """The bytes of s3://bucket/key. `options` are the remote's settings (endpoint_url, region,
    profile, access_key_id, secret_access_key, session_token)."""
    env = os.environ
    if "profile" in options or any(env.get(name) for name in _ENV_NETWORK):
        raise Unavailable("a profile or a proxy: settings only the full client reads")
    if "access_key_id" in options and "secret_access_key" in options:
        key_id, secret = options["access_key_id"], options["secret_access_key"]
        token = options.get("session_token")
    elif any(env.get(name) for name in _ENV_PROFILE):
        raise Unavailable("a profile named in the environment")
    else:
        key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        token = env.get("AWS_SESSION_TOKEN")
    if not key_id or not secret:
        raise Unavailable("no credentials in the settings or the environment")
    if "endpoint_url" not in options and any(env.get(name) for name in _ENV_ENDPOINT):
        raise Unavailable("an endpoint set in the environment")
    region = options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

    endpoint = options.get("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise Unavailable("an endpoint this module does not handle")
        scheme, host = parts.scheme, parts.netloc
        path = f"/{bucket}/{key}"  # path style: what S3-compatible servers (MinIO, moto) serve
    else:
        if not _DNS_BUCKET.match(bucket):
            raise Unavailable("a bucket name that is not a host name")
        scheme, host = "https", f"{bucket}.s3.{region}.amazonaws.com"
        path = f"/{key}"

    uri = quote(path, safe="/~")
    try:
        headers = sign(f"{scheme}://{host}{uri}", region, key_id, secret, token)
    except ImportError:
        raise Unavailable("botocore is not installed") from None
    return _send(scheme, host, uri, headers, env.get("AWS_CA_BUNDLE"))


def sign(url: str, region: str, key_id: str, secret: str, token: str | None = None) -> dict[str, str]:
    """The headers of a GET of `url` signed with AWS Signature Version 4, by botocore."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(key_id, secret, token), "s3", region).add_auth(request)
    return dict(request.headers.items())


def _send(scheme: str, host: str, uri: str, headers: dict[str, str], ca_bundle: str | None) -> bytes:
    import http.client

    if scheme == "https":
        import ssl

        try:
            context = ssl.create_default_context(cafile=ca_bundle or None)
        except OSError as e:
            raise Unavailable(f"the CA bundle: {e}") from None
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, timeout=_TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(host, timeout=_TIMEOUT)
    try:
        conn.request("GET", uri, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise Unavailable(f"no answer: {e}") from None
    finally:
        conn.close()
    if resp.status != 200:
        raise Unavailable(f"HTTP {resp.status}")
    return body
