"""The registry's remaining bad-input messages, through the library (cairn.repo.registry) on a
real git repository: each one asserted as the user reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.errors import PathError, RegistryError, ServingError
from cairn.registry import bundle, compare, resolve, serving
from cairn.repo import registry

ARTIFACTS = "artifacts:\n  m:\n    path: model.bin\n    serve: serve_m:predict\n    example: ex.json\n"


@pytest.fixture
def reg(repo, git, commit, make_files):
    git("config", "user.name", "Unit")
    git("config", "user.email", "unit@example.com")
    make_files(repo.root, {"cairn.yaml": ARTIFACTS, "model.bin": "1", "serve_m.py": "def predict(r): return r"})
    repo.add([str(repo.root / "model.bin")])
    commit("model")
    return repo


def test_register_and_assign_messages(reg):
    with pytest.raises(RegistryError, match="--version and --bump both say which version to register"):
        registry.register(reg, "m", version="1.0.0", bump="minor")
    registry.register(reg, "m")
    with pytest.raises(RegistryError, match=r"artifact 'm' has no version 'v9\.9\.9'"):
        registry.assign(reg, "m@v9.9.9", "prod")
    registry.assign(reg, "m", "prod")
    with pytest.raises(RegistryError, match=r"version v0\.0\.1 of 'm' is in stage 'prod' already"):
        registry.assign(reg, "m", "prod")
    with pytest.raises(RegistryError, match=r"'v1\.2' is not a semantic version"):
        resolve.split_spec("m@v1.2")
    registry.deprecate(reg, "m")
    with pytest.raises(RegistryError, match="artifact 'm' is deprecated already"):
        registry.deprecate(reg, "m")
    with pytest.raises(RegistryError, match="artifact 'x' has no versions in the registry"):
        registry.history(reg, "x")


def test_get_messages(reg, make_files, commit):
    registry.register(reg, "m")
    out = reg.root / "out.bin"
    registry.get(reg, "m", str(out))
    assert out.read_text() == "1"
    with pytest.raises(PathError, match="already exists"):
        registry.get(reg, "m", str(out))
    make_files(reg.root, {"cairn.yaml": ARTIFACTS.replace("model.bin", "untracked.bin")})
    commit("points at a file nothing tracks")
    with pytest.raises(RegistryError, match=r"artifact 'm' \(untracked.bin\) is not tracked by cairn at commit"):
        registry.register(reg, "m")  # no tag for a version nothing holds
    make_files(reg.root, {"untracked.bin": "in git"})
    commit("points at a file git tracks: registered, as GTO does")
    registry.register(reg, "m")
    with pytest.raises(RegistryError, match=r"artifact 'm' \(untracked.bin\) is not tracked by cairn at commit"):
        registry.get(reg, "m@v0.0.2", str(reg.root / "other.bin"))


def test_bundle_messages(reg, tmp_path: Path):
    registry.register(reg, "m")  # ex.json is declared but was never committed
    with pytest.raises(RegistryError, match=r"the input example ex\.json of 'm' is not in git at commit"):
        registry.bundle(reg, "m", str(tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_serving_messages(tmp_path: Path):
    with pytest.raises(ServingError, match="is not a model bundle"):
        serving.load_bundle(tmp_path)
    (tmp_path / serving.BUNDLE_FILE).write_text("{")
    with pytest.raises(ServingError, match="is not valid JSON"):
        serving.load_bundle(tmp_path)
    (tmp_path / serving.BUNDLE_FILE).write_text(json.dumps({"format": 9}))
    with pytest.raises(ServingError, match="bundle format 9 is not known here"):
        serving.load_bundle(tmp_path)
    meta = {"format": 1, "artifact": "m", "path": "model/m", "serve": None}
    with pytest.raises(ServingError, match="artifact 'm' declares no `serve: module:function` entry point"):
        serving.load_entry(tmp_path, meta)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "entry_mod.py").write_text("predict = 3\ndef short(records):\n    return []\n")
    with pytest.raises(ServingError, match="the serving entry point entry_mod:predict is not callable"):
        serving.load_entry(tmp_path, {**meta, "serve": "entry_mod:predict"})
    fn = serving.load_entry(tmp_path, {**meta, "serve": "entry_mod:short"})
    with pytest.raises(ServingError, match="the model returned 0 predictions for 1 records"):
        serving.predict(fn, [{}])
    (tmp_path / serving.BUNDLE_FILE).write_text(json.dumps({**meta, "serve": "entry_mod:short"}))
    with pytest.raises(ServingError, match="the bundle has no input example"):
        serving.check_example(tmp_path)


def test_port_in_use(tmp_path: Path):
    import socket

    # a bundle that loads: the bundle is read before the port is taken
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "port_in_use_model.py").write_text("def predict(records):\n    return records\n")
    meta = {"format": 1, "artifact": "m", "path": "model/m", "serve": "port_in_use_model:predict"}
    (tmp_path / serving.BUNDLE_FILE).write_text(json.dumps(meta))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(ServingError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            serving.serve(tmp_path, "127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_compare_rows_messages():
    with pytest.raises(RegistryError, match="is not per-row results"):
        compare.read_rows(b"a,b\n1,2\n", "rows.csv")
    rows = [{"prediction": 1, "label": 1}]
    with pytest.raises(RegistryError, match="the two evaluations wrote 1 and 2 rows, and no `id` column pairs them"):
        compare.pair(rows, rows * 2)
    both = compare.paired_bootstrap(compare.pair(rows * 4, [{"prediction": 0, "label": 1}] * 4))
    assert {p["metric"]: (p["diff"], p["ci95"]) for p in both} == {
        "accuracy": (-1.0, [-1.0, -1.0]),
        "mae": (1.0, [1.0, 1.0]),
    }
    assert (
        bundle.requirements("numpy==2.0\ncairn==0.1\n", {"starlette": "1.0"}) == "numpy==2.0\nstarlette==1.0\nuvicorn\n"
    )


def test_no_git_identity(reg, git, tmp_path: Path):
    import pygit2

    git("config", "--unset", "user.name")
    git("config", "--unset", "user.email")
    levels = [pygit2.enums.ConfigLevel.GLOBAL, pygit2.enums.ConfigLevel.XDG, pygit2.enums.ConfigLevel.SYSTEM]
    saved = {level: pygit2.settings.search_path[level] for level in levels}
    try:
        for level in levels:  # no identity from this machine's own git config
            pygit2.settings.search_path[level] = str(tmp_path)
        with pytest.raises(RegistryError, match="git does not know who you are") as e:
            registry.register(reg, "m")
        assert "git config user.name" in (e.value.hint or "")
    finally:
        for level, path in saved.items():
            pygit2.settings.search_path[level] = path
    assert git("tag") == ""


def test_get_without_a_data_remote(reg, tmp_path: Path):
    import shutil

    from cairn.errors import ObjectMissingError

    registry.register(reg, "m")
    shutil.rmtree(reg.root / ".cairn" / "cache")
    with pytest.raises(
        ObjectMissingError, match=r"neither in the local cache nor on a data remote \(none is configured\)"
    ):
        registry.get(reg, "m", str(tmp_path / "out" / "m.bin"))
    assert not (tmp_path / "out").exists()  # nothing half-written, nor the folder made for it
