"""Hypothesis strategies for hostile input: names and paths that try to leave the repository,
ids of the wrong shape, sizes out of range, values of the wrong type, and damaged bytes."""

from __future__ import annotations

import json

from blake3 import blake3
from hypothesis import strategies as st

GOOD_OID = blake3(b"hostile").hexdigest()

NASTY_NAMES = [
    "..",
    ".",
    "",
    "../../evil",
    "../sentinel/evil",
    "a/../../evil",
    "/etc/passwd",
    "/tmp/evil",
    "\\\\server\\share",
    "C:\\evil",
    "a/b",
    "a\0b",
    "\0",
    "a\nb",
    "\n",
    "new\nline: true",
    ".git",
    ".GIT",
    ".git/hooks/post-checkout",
    ".cairn",
    ".cairn/config.toml",
    "a" * 300,
    "é",
    "name with spaces",
    "-rf",
    "~",
    "$HOME",
    "*",
    "data",
    "null",
    "yes",
    "1e3",
    "0x10",
]

names = st.one_of(st.sampled_from(NASTY_NAMES), st.text(max_size=20))
good_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\- é]{0,10}", fullmatch=True)

oids = st.one_of(
    st.just(GOOD_OID),
    st.sampled_from(["", "0" * 64, GOOD_OID.upper(), GOOD_OID[:63], GOOD_OID + "0", "g" * 64, "../" * 21 + "a"]),
    st.text(alphabet="0123456789abcdef", min_size=60, max_size=68),
    st.text(max_size=70),
)

sizes = st.one_of(st.integers(0, 2**20), st.integers(-(2**70), 2**70), st.sampled_from([-1, 2**63, 2**64, 10**30]))

# a value of any JSON/YAML type, where a field expects one type
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def field(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly well-typed values, sometimes a value of another type, sometimes absent (None
    standing for 'leave the key out' where the caller drops it)."""
    return st.one_of(good, good, wrong_types)


@st.composite
def mutated(draw, good: dict, hostile: dict) -> dict:
    """A valid document `good` with up to two fields made hostile (a hostile value or a wrong
    type) or left out, and now and then an unknown key: most inputs are then close to valid,
    where parsers go wrong, and a fair share stays valid, so acceptance is tested too."""
    doc = dict(good)
    for key in draw(st.lists(st.sampled_from(sorted(hostile)), max_size=2, unique=True)):
        how = draw(st.sampled_from(["hostile", "wrong type", "left out"]))
        if how == "left out":
            doc.pop(key, None)
        else:
            doc[key] = draw(hostile[key] if how == "hostile" else wrong_types)
    if not draw(st.integers(0, 9)):
        doc[draw(st.text(min_size=1, max_size=8))] = draw(wrong_types)
    return doc


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` truncated, with bytes flipped, or with bytes inserted: what a dropped connection,
    a bad disk or a careless edit leaves."""
    how = draw(st.sampled_from(["truncate", "flip", "insert", "invalid-utf8"]))
    if how == "truncate" or not data:
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    at = draw(st.integers(0, len(data) - 1))
    if how == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if how == "invalid-utf8":
        return data[:at] + b"\xff\xfe" + data[at:]
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


def canonical(doc: object) -> bytes:
    """JSON as cairn writes it (ASCII escapes, so lone surrogates and NULs survive encoding)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
