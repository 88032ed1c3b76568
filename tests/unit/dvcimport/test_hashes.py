"""DVC's hashes as dvc-data computes them: md5 (DVC 3), md5 after dos2unix per 1 MiB chunk for
text (DVC 2), the `.dir` id of a folder listing, and both cache layouts."""

from __future__ import annotations

import hashlib
import json

from cairn.dvcimport.hashes import (
    CHUNK,
    bytes_md5s,
    dir_md5,
    file_md5s,
    is_md5,
    is_text_block,
    object_key,
    parse_listing,
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_text_with_crlf_hashes_as_unix_text_for_dvc2_only():
    data = b"a,b\r\n1,2\r\n"
    assert bytes_md5s(data) == (md5(data), md5(b"a,b\n1,2\n"))


def test_binary_and_lf_text_hash_the_same_both_ways():
    binary = b"\x00\x01\r\n\xff" * 100
    assert bytes_md5s(binary) == (md5(binary), md5(binary))
    text = b"plain\nunix\n"
    assert bytes_md5s(text) == (md5(text), md5(text))
    assert bytes_md5s(b"") == (md5(b""), md5(b""))


def test_dos2unix_decides_per_chunk_from_its_first_512_bytes():
    # the first chunk is text, the second starts with a NUL: only the first is converted
    first = (b"x" * 100 + b"\r\n") * (CHUNK // 102) + b"y" * (CHUNK % 102)
    second = b"\x00" + b"\r\n" * 10
    data = first + second
    assert len(first) == CHUNK
    expected = md5(first.replace(b"\r\n", b"\n") + second)
    assert bytes_md5s(data)[1] == expected


def test_file_md5s_equal_bytes_md5s(tmp_path):
    data = b"line\r\n" * 300_000  # more than one chunk
    (tmp_path / "f").write_bytes(data)
    assert file_md5s(tmp_path / "f") == bytes_md5s(data)


def test_text_block_heuristic():
    assert is_text_block(b"")
    assert is_text_block(b"hello\r\n")
    assert not is_text_block(b"a\x00b")
    assert not is_text_block(bytes(range(128, 256)))


def test_dir_md5_is_md5_of_sorted_json_listing_plus_dir():
    entries = [("b.txt", "2" * 32), ("a/x.txt", "1" * 32)]
    listing = [{"md5": "1" * 32, "relpath": "a/x.txt"}, {"md5": "2" * 32, "relpath": "b.txt"}]
    assert dir_md5(entries) == md5(json.dumps(listing, sort_keys=True).encode()) + ".dir"


def test_object_keys_of_both_layouts():
    m = "0123456789abcdef0123456789abcdef"
    assert object_key(m, legacy=False) == "files/md5/01/23456789abcdef0123456789abcdef"
    assert object_key(m, legacy=True) == "01/23456789abcdef0123456789abcdef"
    assert object_key(m + ".dir", legacy=False).endswith("/23456789abcdef0123456789abcdef.dir")


def test_is_md5():
    assert is_md5("a" * 32) and is_md5("a" * 32 + ".dir")
    assert not is_md5("A" * 32) and not is_md5("a" * 31) and not is_md5(None) and not is_md5(5)


def test_parse_listing_reads_meta_and_refuses_escaping_paths():
    good = json.dumps([{"md5": "1" * 32, "relpath": "a/b", "isexec": True, "size": 3}]).encode()
    assert parse_listing(good) == [("a/b", "1" * 32, True)]
    for bad in (b"not json", b"{}", json.dumps([{"md5": "1" * 32, "relpath": "../x"}]).encode()):
        assert parse_listing(bad) is None
    assert parse_listing(json.dumps([{"md5": "zz", "relpath": "a"}]).encode()) is None


def test_remote_keys_of_both_layouts_and_nothing_else():
    from cairn.dvcimport.remotecopy import objects

    m = "0123456789abcdef0123456789abcdef"
    keys = [
        f"files/md5/{m[:2]}/{m[2:]}",
        f"{m[:2]}/{m[2:]}.dir",
        "cairn/packs/abc.pack",
        f"files/md5/{m[:2]}/{m[2:]}.tmp",
        "runs/12/ab",
    ]
    assert objects(keys) == [(m, False), (m + ".dir", True)]
