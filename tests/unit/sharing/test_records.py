"""The `source:` extension of pointers and the import records it holds."""

from __future__ import annotations

import pytest

from cairn.errors import PointerError
from cairn.index import pointer as ptr
from cairn.sharing.records import RepoSource, UrlSource, source_of

OID = "ab" * 32


def test_a_pointer_without_source_reads_and_writes_as_before():
    text = f"version: 1\npath: images\nkind: tree\noid: {OID}\nsize: 3\nfiles: 1\n"
    p = ptr.parse(text, "images.cairn")
    assert p.source == () and p.source_doc() is None and p.to_yaml() == text
    assert source_of(p, "images.cairn") is None


def test_repo_source_round_trips_in_key_order():
    record = RepoSource("https://example.com/reg.git", None, "c" * 40, "data/images")
    p = ptr.Pointer("images", "tree", OID, 3, 1, source=record.items())
    text = p.to_yaml()
    assert text.index("type: repo") < text.index("url:") < text.index("rev: null") < text.index("commit:")
    back = ptr.parse(text, "images.cairn")
    assert back == p
    assert source_of(back, "images.cairn") == record


def test_url_source_keeps_only_what_the_server_gave():
    record = UrlSource("s3://b/k", {"etag": '"e"', "size": 4, "mtime": None})
    assert dict(record.items()) == {"version": 1, "type": "url", "url": "s3://b/k", "etag": '"e"', "size": 4}
    assert record.detects_changes()
    assert not UrlSource("https://x/y", {"size": 4}).detects_changes()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("source: 3", "has a `source` that is not a mapping"),
        ("source:\n  version: 2\n  type: repo", "an import source of version 2; this cairn understands version 1"),
        ("source:\n  version: 1\n  url: [1, 2]", "has a `source` that is not a mapping"),
    ],
)
def test_bad_sources_are_refused(source, message):
    text = f"version: 1\npath: x\nkind: file\noid: {OID}\nsize: 1\nfiles: 1\n{source}\n"
    with pytest.raises(PointerError, match=message.replace("`", ".").replace("(", ".").replace(")", ".")):
        ptr.parse(text, "x.cairn")


def test_an_unknown_import_type_is_refused():
    p = ptr.Pointer("x", "file", OID, 1, 1, source=(("version", 1), ("type", "ftp"), ("url", "ftp://h/x")))
    with pytest.raises(PointerError, match="records an import of unknown type 'ftp'"):
        source_of(p, "x.cairn")
