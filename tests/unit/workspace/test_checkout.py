"""checkout (cache.type copy): the stat rows it records are those of the files it wrote, and a
missing object stops it before anything is written."""

from __future__ import annotations

import os
import shutil

import pytest
from blake3 import blake3

from cairn.errors import ObjectMissingError
from cairn.repo import Repo


def _files(n: int) -> dict[str, bytes]:
    return {f"data/d{i % 3}/f{i:03}.bin": os.urandom(100 + i) for i in range(n)}


def test_files_written_by_checkout_are_known_to_the_stat_cache(repo: Repo, make_files) -> None:
    files = _files(40)
    make_files(repo.root, files)
    os.chmod(repo.root / "data/d0/f000.bin", 0o755)
    [added] = repo.add([str(repo.root / "data")])
    shutil.rmtree(repo.root / "data")

    repo.checkout()

    for rel, content in files.items():
        assert (repo.root / rel).read_bytes() == content
    assert os.stat(repo.root / "data/d0/f000.bin").st_mode & 0o777 == 0o755
    assert os.stat(repo.root / "data/d0/f003.bin").st_mode & 0o777 == 0o644
    [again] = repo.add([str(repo.root / "data")])
    assert (again.oid, again.hashed) == (added.oid, 0)  # every row matched: nothing re-read


def test_a_missing_object_stops_checkout_before_any_file_is_written(repo: Repo, make_files) -> None:
    files = _files(40)
    make_files(repo.root, files)
    repo.add([str(repo.root / "data")])
    shutil.rmtree(repo.root / "data")
    gone = blake3(files["data/d1/f007.bin"]).hexdigest()
    repo.store.drop_packed({gone})  # small files are packed

    with pytest.raises(ObjectMissingError, match=r"1 object\(s\) needed for data are not in the cache") as err:
        repo.checkout()
    assert err.value.oids == [gone]
    assert not (repo.root / "data").exists()
