"""import-dvc against a project made by DVC 3.67.1 itself (the version the bench pins, in its
own virtual environment): a foreach stage, params, metrics and a local DVC remote, converted;
then `cairn status` is up to date, `cairn repro` runs nothing, and every byte is the same, from
the cache and from the remote."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DVC_VERSION = "3.67.1"
BENCH_VENV = Path(__file__).resolve().parents[3] / "bench" / ".venvs" / "dvc"


def _dvc_version(venv: Path) -> str | None:
    exe = venv / "bin" / "dvc"
    if not exe.exists():
        return None
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=_env(venv), check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _env(venv: Path, home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_NO_UPDATER"] = "1"
    if home is not None:
        env["HOME"] = str(home)
    return env


@pytest.fixture(scope="session")
def dvc_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bench's DVC venv when it holds the pinned DVC, else one made for the session (needs
    the package index; skipped with the reason when that fails, e.g. offline)."""
    if _dvc_version(BENCH_VENV) == DVC_VERSION:
        return BENCH_VENV
    venv = tmp_path_factory.mktemp("dvc-venv")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"dvc=={DVC_VERSION}"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        out = getattr(e, "stderr", b"") or b""
        pytest.skip(f"DVC {DVC_VERSION} could not be installed into a venv (offline?): {out.decode()[-300:]}")
    if _dvc_version(venv) != DVC_VERSION:
        pytest.skip(f"the venv made for the test does not run DVC {DVC_VERSION}")
    return venv


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def make_dvc_project(root: Path, venv: Path, home: Path, git) -> None:
    env = _env(venv, home)
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    git("config", "user.name", "cairn tests", cwd=root)
    git("config", "user.email", "tests@cairn.invalid", cwd=root)
    sh(["dvc", "init", "-q"], root, env)
    sh(["dvc", "remote", "add", "-d", "store", str(root.parent / "dvcstore")], root, env)
    data = root / "data" / "raw"
    for i in range(30):
        (data / f"part{i % 3}").mkdir(parents=True, exist_ok=True)
        (data / f"part{i % 3}" / f"f{i:02d}.csv").write_bytes(f"id,value\r\n{i},{i * i}\r\n".encode())
    (data / "blob.bin").write_bytes(bytes(range(256)) * 64)
    sh(["dvc", "add", "-q", "data/raw"], root, env)
    (root / "params.yaml").write_text("sizes: [small, large]\ntrain:\n  lr: 0.1\n  epochs: 2\n")
    (root / "dvc.yaml").write_text(
        textwrap.dedent(
            """\
            # made by DVC, converted by cairn
            stages:
              prepare:
                foreach: ${sizes}
                do:
                  cmd: mkdir -p out && cat data/raw/part0/f00.csv > out/${item}.csv && echo ${item} >> out/${item}.csv
                  deps:
                    - data/raw
                  outs:
                    - out/${item}.csv
              train:
                cmd: >-
                  cat out/small.csv out/large.csv > model.bin &&
                  python3 -c "print('{\\"acc\\": 0.75}')" > metrics.json
                deps:
                  - out/small.csv
                  - out/large.csv
                params:
                  - train.lr
                  - train.epochs
                outs:
                  - model.bin
                metrics:
                  - metrics.json:
                      cache: false
            """
        )
    )
    sh(["dvc", "repro", "-q"], root, env)
    sh(["dvc", "push", "-q"], root, env)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "DVC project", cwd=root)


def same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b, ignore=[".gitignore"])  # git's, not data
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, (cmp.left_only, cmp.right_only)
    for sub in cmp.common_dirs:
        same_tree(a / sub, b / sub)
    for name in cmp.common_files:  # dircmp compares shallowly: compare the bytes
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_project_made_by_dvc(tmp_path, dvc_venv, home, git, run_cairn):
    root = tmp_path / "proj"
    make_dvc_project(root, dvc_venv, home, git)
    saved = tmp_path / "saved"
    for rel in ("data/raw", "out", "model.bin", "metrics.json"):
        src, dst = root / rel, saved / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)

    result = run_cairn("import-dvc", "--json", cwd=root).stdout
    assert '"locked": [\n    "prepare@small",\n    "prepare@large",\n    "train"\n  ]' in result
    assert '"rerun": {}' in result
    status = run_cairn("status", "--json", cwd=root).stdout
    assert '"stages": {}' in status and '"state": "unchanged"' in status
    assert '"ran": []' in run_cairn("repro", "--json", cwd=root).stdout

    # from cairn's cache alone: remove the data and outputs, check them out again
    for rel in ("data/raw", "out", "model.bin"):
        p = root / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    run_cairn("checkout", cwd=root)
    same_tree(root / "data" / "raw", saved / "data" / "raw")
    same_tree(root / "out", saved / "out")
    assert (root / "model.bin").read_bytes() == (saved / "model.bin").read_bytes()
    assert '"ran": []' in run_cairn("repro", "--json", cwd=root).stdout

    # from the DVC remote: a clone with neither DVC's cache nor the data
    clone = tmp_path / "clone"
    git("clone", "-q", str(root), str(clone), cwd=tmp_path)
    result = run_cairn("import-dvc", "--remote", "store", "--json", cwd=clone).stdout
    assert '"pushed": ' in result and '"pushed": null' not in result
    git("clone", "-q", str(clone), str(tmp_path / "third"), cwd=tmp_path)
    third = tmp_path / "third"
    git("add", "-A", cwd=clone)
    git("-c", "user.name=t", "-c", "user.email=t@cairn.invalid", "commit", "-q", "-m", "cairn", cwd=clone)
    git("pull", "-q", str(clone), "main", cwd=third)
    run_cairn("pull", cwd=third)
    same_tree(third / "data" / "raw", saved / "data" / "raw")
    assert (third / "model.bin").read_bytes() == (saved / "model.bin").read_bytes()
    status = run_cairn("status", "--json", cwd=third).stdout
    assert '"stages": {}' in status
