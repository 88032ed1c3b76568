"""How S3 requests are retried, and how a failure that outlasted the retries is described.

Two layers retry, each for what the other cannot see, so no request is ever retried twice over:

- botocore (mode "standard", `attempts()` in all) retries a request until an answer's headers
  arrive: refused or dropped connections, timeouts, 500/502/503/504 and throttling answers
  (503 SlowDown), with exponential backoff and full jitter (a random wait of up to 1, 2, 4,
  8 s), within its retry quota (a client stops retrying after about 100 failed retries net).
- cairn (`again`) retries an operation whose answer was cut off after its headers: botocore
  has returned by then, and s3fs's own retries are switched off (storage/fsspec.py), because
  around botocore's they would multiply a dead endpoint's wait. The whole operation runs
  again (a download restarts at its first byte), as many times, with a shorter backoff.

A body shorter than its Content-Length is caught by the HTTP client; a range read that comes
back short with a length that agrees is not an error here, and the object's BLAKE3 id catches
it before anything is stored (remotes/remote.py)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

ATTEMPTS = 5  # the first try included
_MAX_BACKOFF = 20.0
# A cut-off answer is no sign of an overloaded server (the connection worked a moment ago), so
# its retries wait less, as botocore's next retry behaviour does for errors that are not
# throttling (a base of 50 ms); a network that is down makes the next attempt's own requests
# fail, and those wait botocore's full backoff.
_CUT_BASE = 0.1
# An answer cut off mid-body: aiohttp's ClientPayloadError (a whole non-streamed answer, read
# inside botocore), botocore's ResponseStreamingError and IncompleteReadError (a streamed
# object body), urllib3's IncompleteRead.
_CUT = {"ClientPayloadError", "ResponseStreamingError", "IncompleteReadError", "IncompleteRead"}
# botocore's and aiohttp's base classes of "the connection failed" errors.
_NETWORK = {"HTTPClientError", "ClientConnectionError"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}


def attempts() -> int:
    """How many times a request is tried: ATTEMPTS, unless AWS_MAX_ATTEMPTS says otherwise (as
    for every AWS tool; it counts the first try too)."""
    try:
        n = int(os.environ.get("AWS_MAX_ATTEMPTS", ""))
    except ValueError:
        return ATTEMPTS
    return n if n >= 1 else ATTEMPTS


def backoff(attempt: int, base: float = 1.0) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): botocore's standard
    backoff, a random share of base * 2**(attempt-1) seconds."""
    return random.random() * min(base * 2.0 ** (attempt - 1), _MAX_BACKOFF)


def again(fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    """fn(), run again while its answer is cut off mid-body, `attempts()` times in all. The
    last failure is raised with `attempts` (how many were made) set on it."""
    limit = attempts()
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as e:
            if not _is(e, _CUT):
                raise
            if attempt >= limit:
                e.attempts = attempt  # type: ignore[attr-defined] - read by describe()
                raise
            sleep(backoff(attempt, _CUT_BASE))
            attempt += 1


def _chain(e: BaseException):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _is(e: BaseException, names: set[str]) -> bool:
    return any(c.__name__ in names for x in _chain(e) for c in type(x).__mro__)


def describe(e: BaseException) -> str | None:
    """What went wrong, when `e` is a failure worth retrying that outlasted its retries (a
    server error or throttling, a cut-off answer, a failed connection); None otherwise."""
    for x in _chain(e):
        response = getattr(x, "response", None)
        if not isinstance(response, dict):
            continue
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or "")
        if status >= 500 or code in _THROTTLED:
            tries = int(meta.get("RetryAttempts") or 0) + 1
            named = f" {code}" if code and code != str(status) else ""  # HEAD answers name no code
            text = f"HTTP {status}{named}" + (f": {error['Message']}" if error.get("Message") else "")
            return f"the storage kept failing ({text}) after {tries} attempt(s)"
        return None
    if _is(e, _CUT):
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        tries = getattr(e, "attempts", 1)
        return f"the connection kept breaking off mid-answer ({first}) after {tries} attempt(s)"
    if _is(e, _NETWORK):
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"cannot reach the storage ({first})"
    return None
