"""The build hook (hatch_build.py): wheels and sdists ship the Vega scripts pinned in js/, a
build without npm and without the scripts fails with a clear message, an editable install with
older scripts goes on with a warning. Builds run on a copy of the project tree."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VENDOR = Path("src", "cairn", "metrics", "vendor")
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
HAVE_HATCHLING = importlib.util.find_spec("hatchling") is not None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The files a build reads, vendored scripts included (as a built checkout has them)."""
    dst = tmp_path / "cairn-src"
    (dst / "js").mkdir(parents=True)
    for name in ("pyproject.toml", "hatch_build.py", "README.md", ".gitignore"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    for name in ("package.json", "package-lock.json", ".gitignore"):
        shutil.copy2(ROOT / "js" / name, dst / "js" / name)
    shutil.copytree(ROOT / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__"))
    if not all((dst / VENDOR / n).is_file() for n in SCRIPTS):
        pytest.fail(f"{ROOT / VENDOR} lacks the vendored scripts: run `pip install -e .` (it runs npm ci)")
    return dst


def no_npm_env() -> dict[str, str]:
    """PATH with this venv only: python and pip, but no npm."""
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "PYTHONPATH")}
    env["PATH"] = str(Path(sys.executable).parent)
    return env


def build(src: Path, out: Path, target: str) -> subprocess.CompletedProcess:
    if HAVE_HATCHLING:
        cmd = [sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)]
    elif target == "wheel":  # pip builds in an isolated environment (downloads hatchling)
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    else:
        pytest.skip("building an sdist needs hatchling in this environment")
    return subprocess.run(cmd, cwd=src, env=no_npm_env(), capture_output=True, text=True, timeout=300)


def test_wheel_and_sdist_ship_the_vendored_scripts_without_npm(tree: Path, tmp_path: Path) -> None:
    proc = build(tree, tmp_path / "dist", "wheel")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("cairn-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for n in SCRIPTS:
            data = z.read(f"cairn/metrics/vendor/{n}")
            assert data == (ROOT / VENDOR / n).read_bytes()
        stamp = json.loads(z.read("cairn/metrics/vendor/versions.json"))
    assert set(stamp["versions"]) == {"vega", "vega-lite", "vega-embed"}
    assert "cairn/metrics/vendor/.gitignore" not in names
    assert "cairn/metrics/html.py" in names
    if not HAVE_HATCHLING:
        return
    proc = build(tree, tmp_path / "dist", "sdist")
    assert proc.returncode == 0, proc.stderr
    (sdist,) = (tmp_path / "dist").glob("cairn-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {f"src/cairn/metrics/vendor/{n}" for n in SCRIPTS} <= names
    assert {"js/package.json", "js/package-lock.json", "hatch_build.py"} <= names
    assert not any(n.startswith("js/node_modules") for n in names)


def test_no_npm_and_no_scripts_fails_clearly(tree: Path, tmp_path: Path) -> None:
    shutil.rmtree(tree / VENDOR)
    proc = build(tree, tmp_path / "dist", "wheel")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "needs npm, which is not on PATH" in out
    assert "apt-get install npm" in out
    assert not list((tmp_path / "dist").glob("*.whl")) if (tmp_path / "dist").exists() else True


class _App:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def __getattr__(self, name: str):
        if name.startswith("display"):
            return lambda message="", **kw: self.said.append((name, message))
        raise AttributeError(name)

    def abort(self, message: str = "", code: int = 1, **kw) -> None:
        self.said.append(("abort", message))
        raise SystemExit(code)


def _hook(src: Path, app: _App):
    pytest.importorskip("hatchling")
    spec = importlib.util.spec_from_file_location("cairn_hatch_build", src / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.VendorJsHook(str(src), {}, None, None, str(src / "dist"), "wheel", app=app)


def test_editable_install_with_older_scripts_and_no_npm_warns(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (tree / VENDOR / "vega.min.js").open("a") as f:
        f.write("\n// an older copy\n")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    app = _App()
    module, hook = _hook(tree, app)
    assert module.vendored_state(tree) == "stale"
    hook.initialize("editable", {})
    assert app.said[0][0] == "display_warning" and "npm is not on PATH" in app.said[0][1]
    with pytest.raises(SystemExit):
        hook.initialize("standard", {})  # a wheel for others must not ship stale scripts
    assert app.said[-1][0] == "abort"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_ci_vendors_the_pinned_versions(tree: Path) -> None:
    shutil.rmtree(tree / VENDOR)
    app = _App()
    module, hook = _hook(tree, app)
    hook.initialize("standard", {})
    assert module.vendored_state(tree) == "current"
    lock = json.loads((tree / "js" / "package-lock.json").read_text())["packages"]
    stamp = json.loads((tree / VENDOR / "versions.json").read_text())
    for package in ("vega", "vega-lite", "vega-embed"):
        assert stamp["versions"][package] == lock[f"node_modules/{package}"]["version"]
    for n in SCRIPTS:
        assert stamp["files"][n] == hashlib.sha256((tree / VENDOR / n).read_bytes()).hexdigest()
    assert any("vendored" in message for _, message in app.said)
