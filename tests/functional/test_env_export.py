"""`cairn env export --format requirements` rebuilds the recorded distributions: a run recorded
in a small environment, exported, installed into a fresh virtual environment (pip, offline, from
a local wheel), and the versions there compared with the record."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cairn

SRC = str(Path(cairn.__file__).parent.parent)  # cairn's own code, without its installed metadata
CAPTURE = "import json; from cairn.environment.capture import capture; print(json.dumps(capture()))"


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, as a build backend writes it."""
    pkg, dist = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}"
    files = {
        f"{pkg}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{p},sha256={digest(d)},{len(d)}\n" for p, d in files.items()) + f"{dist}.dist-info/RECORD,,\n"
    files[f"{dist}.dist-info/RECORD"] = record.encode()
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
    return path


def _venv(path: Path, pip: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", *([] if pip else ["--without-pip"]), str(path)], check=True)
    return path / "bin" / "python"


def _captured(python: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run([str(python), "-c", CAPTURE], env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_exported_requirements_install_the_recorded_versions(tmp_path, run_cairn):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = _wheel(wheels, "tinypkg-for-cairn", "1.2.3")
    # the recorded environment: a venv without pip holding one distribution (unpacked, as pip would)
    small = _venv(tmp_path / "small", pip=False)
    site = next((tmp_path / "small" / "lib").glob("python*/site-packages"))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    record = _captured(small)
    assert record["packages"] == ["tinypkg-for-cairn==1.2.3"]

    # stored as a stage run stores it, named by the workspace's cairn.lock
    from cairn.environment.record import encode
    from cairn.pipelines import lock
    from cairn.repo import Repo

    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    repo = Repo.init(project)
    oid = repo.store.add_bytes(encode(record))
    lock.write(project, {"train": lock.StageLock(["python train.py"], env=oid)}, ["train"])
    req = run_cairn("env", "export", "-o", str(tmp_path / "requirements.txt"), cwd=project)
    assert req.stdout == ""
    text = (tmp_path / "requirements.txt").read_text()
    assert text.splitlines()[2:] == ["tinypkg-for-cairn==1.2.3"]

    fresh = _venv(tmp_path / "fresh", pip=True)
    subprocess.run(
        [
            str(fresh),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            "-r",
            str(tmp_path / "requirements.txt"),
        ],
        check=True,
        capture_output=True,
    )
    rebuilt = {p for p in _captured(fresh)["packages"] if not p.startswith(("pip==", "setuptools=="))}
    assert rebuilt == set(record["packages"])
