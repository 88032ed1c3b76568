"""Object ids: BLAKE3 of the raw bytes, checkable with an independent tool."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.objects import hashing
from cairn.objects.hashing import OID_LEN, SMALL_FILE, hash_bytes, hash_file, hash_mapped, is_oid


@pytest.mark.parametrize("size", [0, 1, 1000, SMALL_FILE, SMALL_FILE + 1])
def test_hash_file_is_blake3_of_the_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    f = tmp_path / "f"
    f.write_bytes(data)
    assert hash_file(f) == blake3(data).hexdigest() == hash_bytes(data)
    assert len(hash_file(f)) == OID_LEN


@pytest.mark.parametrize("size", [0, 1, SMALL_FILE, SMALL_FILE + 1])
def test_hash_mapped_is_blake3_of_the_bytes(tmp_path: Path, size: int) -> None:
    f = tmp_path / "f"
    data = os.urandom(size)
    f.write_bytes(data)
    assert hash_mapped(f) == blake3(data).hexdigest()


@pytest.mark.parametrize("windows", [1, 2.5, 3])
def test_hash_mapped_hashes_every_window_in_order(tmp_path: Path, monkeypatch, windows: float) -> None:
    # small windows, so the file spans several (the last one partly) without writing gigabytes
    monkeypatch.setattr(hashing, "SMALL_FILE", 0)
    monkeypatch.setattr(hashing, "WINDOW", 64 * 1024)
    data = os.urandom(int(windows * 64 * 1024))
    f = tmp_path / "f"
    f.write_bytes(data)
    assert hash_mapped(f) == blake3(data).hexdigest() == hash_file(f)


def test_hash_mapped_reads_a_file_it_cannot_map(tmp_path: Path, monkeypatch) -> None:
    import mmap

    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")  # what mmap says on a file system without it

    monkeypatch.setattr(hashing, "SMALL_FILE", 0)
    monkeypatch.setattr(mmap, "mmap", refuse)
    data = os.urandom(100_000)
    f = tmp_path / "f"
    f.write_bytes(data)
    assert hash_mapped(f) == blake3(data).hexdigest()


def test_known_vector() -> None:
    # The published BLAKE3 test vector for the empty input.
    assert hash_bytes(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


@pytest.mark.parametrize("value", ["a" * 64, "0123456789abcdef" * 4])
def test_is_oid_accepts_lowercase_hex_of_64(value: str) -> None:
    assert is_oid(value)


@pytest.mark.parametrize(
    "value",
    ["", "a" * 63, "a" * 65, "A" * 64, "g" * 64, None, 5, b"a" * 64],
)
def test_is_oid_refuses(value: object) -> None:
    assert not is_oid(value)


@pytest.mark.parametrize(
    "value",
    ["0x" + "a" * 62, "a_" + "a" * 62, "-" + "a" * 63, "+" + "a" * 63, " " + "a" * 63, "a" * 63 + "\n"],
    ids=["0x-prefix", "underscore", "minus", "plus", "space", "newline"],
)
def test_is_oid_refuses_what_int_parses(value: str) -> None:
    assert not is_oid(value)
