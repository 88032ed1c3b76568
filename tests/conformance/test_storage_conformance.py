"""The storage contract (cairn.storage.base.Storage), held against every backend: memory, a
local folder, and through fsspec S3 on a real moto server (at a prefix and at a bucket's root),
Azure Blob on Azurite, GCS on fake-gcs-server and SFTP on an asyncssh server (tests/emulators.py)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from s3server import KEY_ID, SECRET

from cairn.errors import RemoteAuthError, RemoteError, RemoteKeyMissingError, RemoteNotFoundError
from cairn.storage.base import Storage
from cairn.storage.local import LocalStorage

BACKENDS = ["memory", "local", "s3", "az", "gs", "ssh"]
# S3 at a bucket's root (no prefix) as well: the key <-> path tests run against it too.
ALL_BACKENDS = [*BACKENDS, "s3-bucket-root"]


def make_storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    if kind == "memory":
        from cairn.storage.memory import MemoryStorage

        return MemoryStorage()
    if kind == "local":
        from cairn.storage.local import LocalStorage

        return LocalStorage(str(tmp_path / "remote"))
    from cairn.storage.fsspec import FsspecStorage

    if kind == "az":
        azurite = request.getfixturevalue("azurite")
        options = {"connection_string": azurite.connection_string}
        return FsspecStorage(f"az://{azurite.new_container()}/some/prefix", options)
    if kind == "gs":
        gcs = request.getfixturevalue("fake_gcs")
        return FsspecStorage(f"gs://{gcs.new_bucket()}/some/prefix", {"endpoint_url": gcs.endpoint})
    if kind == "ssh":
        sftp = request.getfixturevalue("sftp_server")
        return FsspecStorage(sftp.url(sftp.new_folder()), sftp.options())  # its parent exists, as for local
    name = request.getfixturevalue("bucket")
    url = f"s3://{name}/some/prefix" if kind == "s3" else f"s3://{name}"
    options = {
        "endpoint_url": request.getfixturevalue("moto_endpoint"),
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
    }
    return FsspecStorage(url, options)


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """One empty storage of each backend (of ALL_BACKENDS with `indirect` parametrization)."""
    s = make_storage(request.param, tmp_path, request)
    yield s
    s.close()


every_backend = pytest.mark.parametrize("storage", ALL_BACKENDS, indirect=True)
BIG = 5 * 1024 * 1024 + 12345  # above the 5 MiB multipart part size of object stores


def _random(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def _listing(storage, prefix: str = "") -> dict[str, int]:
    items = list(storage.list(prefix))
    keys = [k for k, _ in items]
    assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
    return dict(items)


# -- bytes ------------------------------------------------------------------------------------


@every_backend
def test_put_get_bytes_roundtrip(storage):
    values = {"a": b"hello", "dir/b.bin": _random(1000), "dir/sub/empty": b"", "objects/ab/cdef": b"\x00\xff" * 10}
    for key, data in values.items():
        storage.put_bytes(key, data)
    for key, data in values.items():
        assert storage.get_bytes(key) == data


RANGES = [
    (2, 5, b"234"),
    (None, 4, b"0123"),
    (3, None, b"3456789"),
    (0, 10, b"0123456789"),
    (0, None, b"0123456789"),
    (9, 10, b"9"),
    (8, 20, b"89"),  # past the end: what there is
    (4, 4, b""),  # an empty range is empty, not the whole value
    (0, 0, b""),
    (10, None, b""),
    (12, None, b""),
]


def test_get_bytes_ranges_are_slices(storage):
    data = b"0123456789"
    storage.put_bytes("packs/p.pack", data)
    got = {(start, end): storage.get_bytes("packs/p.pack", start, end) for start, end, _ in RANGES}
    assert got == {(start, end): expected for start, end, expected in RANGES}
    assert all(data[start:end] == expected for start, end, expected in RANGES)  # the table itself is right


def test_overwrite_replaces_the_whole_value(storage, tmp_path):
    storage.put_bytes("k", b"a much longer first value")
    storage.put_bytes("k", b"short")
    assert storage.get_bytes("k") == b"short"
    assert _listing(storage) == {"k": 5}
    src = tmp_path / "src"
    src.write_bytes(b"from a file")
    storage.put_file("k", str(src))
    assert storage.get_bytes("k") == b"from a file"
    assert _listing(storage) == {"k": len(b"from a file")}


# -- files ------------------------------------------------------------------------------------


def test_put_file_get_file_large(storage, tmp_path):
    data = _random(BIG, seed=1)
    src = tmp_path / "big.src"
    src.write_bytes(data)
    storage.put_file("objects/aa/big", str(src))
    assert _listing(storage, "objects") == {"objects/aa/big": BIG}
    dst = tmp_path / "big.dst"
    storage.get_file("objects/aa/big", str(dst))
    assert dst.read_bytes() == data
    # a range from the middle, across the first 5 MiB boundary
    mid = 5 * 1024 * 1024 - 10
    assert storage.get_bytes("objects/aa/big", mid, mid + 100) == data[mid : mid + 100]


def test_get_file_overwrites_the_destination(storage, tmp_path):
    storage.put_bytes("k", b"new")
    dst = tmp_path / "dst"
    dst.write_bytes(b"old and longer")
    storage.get_file("k", str(dst))
    assert dst.read_bytes() == b"new"


# -- exists, list, delete ---------------------------------------------------------------------


@every_backend
def test_exists(storage):
    storage.put_bytes("packs/x.idx", b"{}")
    assert storage.exists("packs/x.idx")
    assert not storage.exists("packs/y.idx")
    assert not storage.exists("packs")  # a folder of keys is not a key
    assert not storage.exists("nothing/here")


@every_backend
def test_list_is_recursive_with_sizes(storage):
    files = {
        "packs/a.pack": 10,
        "packs/a.idx": 3,
        "objects/ab/" + "c" * 62: 7,
        "objects/cd/" + "e" * 62: 0,
        "cairn-remote.json": 15,
    }
    for key, size in files.items():
        storage.put_bytes(key, b"x" * size)
    assert _listing(storage) == files
    assert _listing(storage, "objects") == {k: v for k, v in files.items() if k.startswith("objects/")}
    assert _listing(storage, "objects/") == _listing(storage, "objects")
    assert _listing(storage, "objects/ab") == {"objects/ab/" + "c" * 62: 7}


@every_backend
def test_scan_adds_when_each_key_was_written(storage):
    """gc removes leftovers of interrupted pushes only once they are old enough, by this time."""
    before = time.time()
    storage.put_bytes("packs/a.pack", b"x" * 10)
    storage.put_bytes("objects/ab/cd", b"")
    scanned = {k: (size, mtime) for k, size, mtime in storage.scan("")}
    assert {k: size for k, (size, _) in scanned.items()} == _listing(storage)
    for key, (_, mtime) in scanned.items():
        # the storage's clock, not ours: allow for a little skew and a coarse timestamp
        assert mtime is not None and before - 5 <= mtime <= time.time() + 5, key
    assert [k for k, _, _ in storage.scan("packs")] == ["packs/a.pack"]


@every_backend
def test_peek_reads_a_whole_small_value(storage):
    storage.put_bytes("cairn-remote.json", b'{"version": 1}')
    storage.put_bytes("deep/er/key.json", b"{}")
    assert storage.peek("cairn-remote.json") == b'{"version": 1}'
    assert storage.peek("deep/er/key.json") == b"{}"
    with pytest.raises(RemoteKeyMissingError):
        storage.peek("nope.json")


@every_backend
def test_put_file_consume_may_move_the_file(storage, tmp_path):
    """A pack built in a temp file is handed over: a backend may take the file itself."""
    data = _random(100_000, seed=3)
    src = tmp_path / "pack.tmp"
    src.write_bytes(data)
    storage.put_file("packs/p.pack", str(src), consume=True)
    assert storage.get_bytes("packs/p.pack") == data
    assert _listing(storage, "packs") == {"packs/p.pack": len(data)}


@every_backend
def test_put_file_check_gates_the_key(storage, tmp_path):
    """`check` raising (a cache object failing its hash) leaves no key and no temp file; a
    check that passes publishes the file, whether the backend runs it before or while copying."""
    data = _random(3_000_000, seed=4)
    src = tmp_path / "obj"
    src.write_bytes(data)
    ran = []

    def bad() -> None:
        ran.append("bad")
        raise ValueError("damaged")

    with pytest.raises(ValueError, match="damaged"):
        storage.put_file("files/aa/bad", str(src), check=bad)
    assert ran == ["bad"]
    assert not storage.exists("files/aa/bad")
    assert _listing(storage) == {}
    if isinstance(storage, LocalStorage):  # its listing hides the temp folder: look inside
        assert not [p for p in Path(storage.root).rglob("*") if p.is_file()]
    storage.put_file("files/aa/good", str(src), check=lambda: ran.append("good"))
    assert ran == ["bad", "good"]
    assert storage.get_bytes("files/aa/good") == data


@every_backend
def test_list_prefix_is_a_folder_not_a_string_prefix(storage):
    storage.put_bytes("packs/a.pack", b"1")
    storage.put_bytes("packs2/b.pack", b"22")
    storage.put_bytes("packsfile", b"333")
    assert _listing(storage, "packs") == {"packs/a.pack": 1}
    assert _listing(storage, "packs2") == {"packs2/b.pack": 2}
    assert _listing(storage, "packs/a.pack") == {}  # a key is not a folder
    assert _listing(storage, "pack") == {}
    assert _listing(storage, "missing") == {}


@every_backend
def test_list_of_an_empty_storage(storage):
    assert _listing(storage) == {}
    assert _listing(storage, "packs") == {}


@every_backend
def test_delete_is_idempotent(storage):
    storage.put_bytes("objects/ab/cd", b"data")
    storage.put_bytes("objects/ab/ef", b"other")
    storage.delete("objects/ab/cd")
    storage.delete("objects/ab/cd")
    storage.delete("never/existed")
    assert not storage.exists("objects/ab/cd")
    assert _listing(storage) == {"objects/ab/ef": 5}
    with pytest.raises(RemoteKeyMissingError):
        storage.get_bytes("objects/ab/cd")


# -- missing keys -----------------------------------------------------------------------------


def test_missing_key(storage, tmp_path):
    storage.put_bytes("packs/other", b"x")
    for key in ["nope", "packs/nope.idx", "deep/er/still/nope"]:
        with pytest.raises(RemoteKeyMissingError) as e:
            storage.get_bytes(key)
        assert isinstance(e.value, RemoteError) and e.value.exit_code == 8
        assert key in e.value.message
        for start, end in [(0, 4), (2, 2), (3, None)]:
            with pytest.raises(RemoteKeyMissingError):
                storage.get_bytes(key, start, end)
        with pytest.raises(RemoteKeyMissingError):
            storage.get_file(key, str(tmp_path / "dst"))
        assert not storage.exists(key)


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_puts_from_threads(storage, tmp_path):
    """Transfers run on a thread pool against one storage object."""
    values = {f"objects/{i % 7:02x}/{i:060x}": _random(100 + i * 37, seed=i) for i in range(64)}
    paths = {}
    for i, (key, data) in enumerate(values.items()):
        if i % 2:
            paths[key] = tmp_path / f"src{i}"
            paths[key].write_bytes(data)

    def put(item: tuple[str, bytes]) -> None:
        key, data = item
        if key in paths:
            storage.put_file(key, str(paths[key]))
        else:
            storage.put_bytes(key, data)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, values.items()))
    assert _listing(storage) == {k: len(v) for k, v in values.items()}
    with ThreadPoolExecutor(16) as pool:
        got = dict(zip(values, pool.map(storage.get_bytes, values), strict=True))
    assert got == values


def test_concurrent_writers_of_one_key_leave_one_whole_value(storage):
    candidates = [bytes([i]) * (1000 + i) for i in range(16)]
    barrier = threading.Barrier(len(candidates))

    def put(data: bytes) -> None:
        barrier.wait()
        storage.put_bytes("packs/same.pack", data)

    with ThreadPoolExecutor(len(candidates)) as pool:
        list(pool.map(put, candidates))
    assert storage.get_bytes("packs/same.pack") in candidates
    assert len(_listing(storage)) == 1  # no temp files visible


# -- the location itself ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "s3", "az", "gs", "ssh"])
def test_check_passes_for_a_usable_location(kind, tmp_path, request):
    make_storage(kind, tmp_path, request).check()  # local: the folder may not exist yet, its parent does


def test_check_local_folder_without_parent(tmp_path):
    from cairn.storage.local import LocalStorage

    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(RemoteNotFoundError) as e:
        LocalStorage(str(missing)).check()
    assert e.value.message == f"the remote folder {missing} does not exist, nor does its parent"
    assert "mkdir -p" in (e.value.hint or "")


def test_check_s3_bucket_that_does_not_exist(moto_endpoint):
    from cairn.storage.fsspec import FsspecStorage

    options = {"endpoint_url": moto_endpoint, "access_key_id": KEY_ID, "secret_access_key": SECRET}
    s = FsspecStorage("s3://no-such-bucket-here/x", options)
    with pytest.raises(RemoteNotFoundError) as e:
        s.check()
    assert e.value.message == "s3://no-such-bucket-here does not exist"
    with pytest.raises(RemoteNotFoundError) as e:
        s.get_bytes("cairn-remote.json")
    assert "the bucket does not exist" in e.value.message


def test_local_storage_hides_its_temp_folder(tmp_path):
    from cairn.storage.local import LocalStorage

    s = LocalStorage(str(tmp_path / "remote"))
    s.put_bytes("k", b"v")
    os.makedirs(tmp_path / "remote" / ".tmp", exist_ok=True)
    (tmp_path / "remote" / ".tmp" / "leftover-of-a-killed-writer").write_bytes(b"partial")
    assert _listing(s) == {"k": 1}


# -- what each backend says when it cannot be used ----------------------------------------------


@pytest.mark.parametrize("kind", ["az", "gs"])
def test_check_bucket_or_container_that_does_not_exist(kind, request):
    from cairn.storage.fsspec import FsspecStorage

    if kind == "az":
        s = FsspecStorage(
            "az://no-such-container/x", {"connection_string": request.getfixturevalue("azurite").connection_string}
        )
    else:
        s = FsspecStorage("gs://no-such-bucket/x", {"endpoint_url": request.getfixturevalue("fake_gcs").endpoint})
    name = s.base.split("/")[0]
    with pytest.raises(RemoteNotFoundError) as e:
        s.check()
    assert e.value.message == f"{kind}://{name} does not exist"
    with pytest.raises(RemoteNotFoundError) as e:
        s.put_bytes("cairn-remote.json", b"{}")
    assert e.value.message == f"{s.url}: writing cairn-remote.json: the bucket does not exist"
    assert e.value.hint == "create it, or fix the remote URL"


def test_azure_wrong_account_key(azurite):
    from emulators import AZURE_KEY

    from cairn.storage.fsspec import FsspecStorage

    wrong = azurite.connection_string.replace(AZURE_KEY, "d3Jvbmc=" * 8)
    s = FsspecStorage(f"az://{azurite.new_container()}/x", {"connection_string": wrong})
    with pytest.raises(RemoteAuthError) as e:
        s.put_bytes("k", b"v")
    assert e.value.message.startswith(f"{s.url}: writing k: access denied (")
    assert "connection_string" in e.value.hint and "AZURE_STORAGE_CONNECTION_STRING" in e.value.hint


def test_ssh_unknown_host_key_is_refused(sftp_server, tmp_path):
    """sshfs alone accepts any host key; cairn checks it against known_hosts as ssh does."""
    from cairn.storage.fsspec import FsspecStorage

    (tmp_path / "known_hosts").write_text("")
    options = {**sftp_server.options(), "known_hosts": str(tmp_path / "known_hosts")}
    s = FsspecStorage(sftp_server.url(sftp_server.new_folder()), options)
    with pytest.raises(RemoteAuthError) as e:
        s.put_bytes("k", b"v")
    assert e.value.message.startswith(f"{s.url}: writing k: the server's host key is not in ~/.ssh/known_hosts (")
    assert (
        e.value.hint
        == "connect once with ssh to the same host and port, check the key and accept it, then run this again"
    )
    assert list(sftp_server.root.iterdir()) == [] or not (sftp_server.root / s.base.lstrip("/")).exists()


def test_ssh_key_not_accepted(sftp_server):
    from cairn.storage.fsspec import FsspecStorage

    s = FsspecStorage(sftp_server.url(sftp_server.new_folder()), {**sftp_server.options(), "client_keys": []})
    with pytest.raises(RemoteAuthError) as e:
        s.get_bytes("k")
    assert e.value.message == f"{s.url}: reading k: access denied (Permission denied for user cairn on host 127.0.0.1)"
    assert (
        e.value.hint
        == "check that the server accepts your key (~/.ssh, ssh-agent, ~/.ssh/config): try ssh to the same host"
    )


def test_check_ssh_folder_without_parent(sftp_server):
    from cairn.storage.fsspec import FsspecStorage

    s = FsspecStorage(sftp_server.url("/no/such/folder"), sftp_server.options())
    with pytest.raises(RemoteNotFoundError) as e:
        s.check()
    assert e.value.message == "the remote folder /no/such/folder does not exist on 127.0.0.1, nor does its parent"
    assert "mkdir -p" in (e.value.hint or "")


def test_ssh_url_parts_are_options_not_paths(sftp_server):
    """ssh://user@host:port/path: the server sees /path, the user and port reach the login."""
    from cairn.storage.fsspec import FsspecStorage

    folder = sftp_server.new_folder()
    s = FsspecStorage(sftp_server.url(folder + "/"), sftp_server.options())
    assert (s.base, s.options["host"], s.options["port"], s.options["username"]) == (
        folder,
        "127.0.0.1",
        sftp_server.port,
        "cairn",
    )
    s.put_bytes("objects/ab/cd", b"data")
    assert (sftp_server.root / folder.lstrip("/") / "objects" / "ab" / "cd").read_bytes() == b"data"


def test_ssh_storage_hides_its_temp_folder(sftp_server):
    """Keys being written (or left by a killed writer) under .tmp/ are not listed as keys, but
    gc finds them by listing .tmp itself."""
    from cairn.storage.fsspec import FsspecStorage

    folder = sftp_server.new_folder()
    s = FsspecStorage(sftp_server.url(folder), sftp_server.options())
    s.put_bytes("k", b"v")
    tmp = sftp_server.root / folder.lstrip("/") / ".tmp"
    assert list(tmp.iterdir()) == []  # the write was moved into place
    (tmp / "leftover-of-a-killed-writer").write_bytes(b"partial")
    assert _listing(s) == {"k": 1}
    assert _listing(s, ".tmp") == {".tmp/leftover-of-a-killed-writer": 7}
