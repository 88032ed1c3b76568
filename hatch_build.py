"""Hatchling build hook: vendor the Vega scripts into the package so plot pages work offline.

js/package.json and js/package-lock.json pin vega, vega-lite and vega-embed. Building a wheel or
an sdist runs `npm ci --ignore-scripts` in js/ and copies the three minified browser bundles (and
their licenses) into src/cairn/metrics/vendor/, which git ignores and the builds ship. The
dashboard's htmx and Tabulator (`cairn ui`) go the same way into src/cairn/dashboard/vendor/.

- Skipped when the vendored copies already match the lock (a stamp file records the lock's and
  every copy's sha256): building a wheel from an sdist, or rebuilding, needs no npm.
- Without npm and without up-to-date copies the build fails with a message saying what to do;
  an editable (dev) install only warns when older copies exist, and goes on with them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

VENDOR = Path("src", "cairn", "metrics", "vendor")
JS = Path("js")
STAMP = "versions.json"
# npm package -> (bundle inside the package, name in the vendor folder)
BUNDLES = {
    "vega": ("build/vega.min.js", "vega.min.js"),
    "vega-lite": ("build/vega-lite.min.js", "vega-lite.min.js"),
    "vega-embed": ("build/vega-embed.min.js", "vega-embed.min.js"),
}
# the dashboard's folder: (npm package, file inside it, name in the folder); Tabulator ships two files
UI_VENDOR = Path("src", "cairn", "dashboard", "vendor")
UI_BUNDLES = [
    ("htmx.org", "dist/htmx.min.js", "htmx.min.js"),
    ("tabulator-tables", "dist/js/tabulator.min.js", "tabulator.min.js"),
    ("tabulator-tables", "dist/css/tabulator.min.css", "tabulator.min.css"),
]


def _groups() -> list[tuple[Path, list[tuple[str, str, str]]]]:
    """Each vendor folder with its (package, bundle, name) files; each folder has its own stamp."""
    return [(VENDOR, [(pkg, bundle, name) for pkg, (bundle, name) in BUNDLES.items()]), (UI_VENDOR, UI_BUNDLES)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendored_state(root: Path) -> str:
    """ "current", "stale" (copies exist but do not match the lock) or "missing"."""
    lock = root / JS / "package-lock.json"
    states = []
    for folder, files in _groups():
        vendor, names = root / folder, [name for _, _, name in files]
        if not all((vendor / n).is_file() for n in names):
            return "missing"
        try:
            stamp = json.loads((vendor / STAMP).read_text())
        except (OSError, ValueError):
            states.append("stale")
            continue
        if lock.is_file() and stamp.get("lock_sha256") != _sha256(lock):
            states.append("stale")
            continue
        recorded = stamp.get("files", {})
        states.append("stale" if any(recorded.get(n) != _sha256(vendor / n) for n in names) else "current")
    return "stale" if "stale" in states else "current"


def vendor_scripts(root: Path, npm: str) -> dict:
    """Run `npm ci --ignore-scripts` in js/ and copy the bundles; returns the stamp written."""
    js = root / JS
    if not (js / "package-lock.json").is_file():
        raise RuntimeError(f"{js / 'package-lock.json'} is missing; it pins the Vega scripts cairn ships")
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=js,
        capture_output=True,
        text=True,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"`npm ci` in {js} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    every: dict = {"versions": {}}
    for folder, files in _groups():
        vendor = root / folder
        vendor.mkdir(parents=True, exist_ok=True)
        stamp: dict = {"lock_sha256": _sha256(js / "package-lock.json"), "versions": {}, "files": {}}
        for package, bundle, name in files:
            src = js / "node_modules" / package
            tmp = vendor / f".{name}.tmp"
            shutil.copyfile(src / bundle, tmp)
            os.replace(tmp, vendor / name)
            license_file = src / "LICENSE"
            if license_file.is_file():
                shutil.copyfile(license_file, vendor / f"LICENSE-{package}.txt")
            stamp["versions"][package] = json.loads((src / "package.json").read_text())["version"]
            stamp["files"][name] = _sha256(vendor / name)
        (vendor / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
        every["versions"].update(stamp["versions"])
    return every


NO_NPM = (
    "cairn's build copies the Vega scripts (pinned in js/package-lock.json) into the package so plot "
    "pages work offline, and that needs npm, which is not on PATH. Install Node.js and npm (Debian: "
    "`apt-get install npm`), then build again; or build from an sdist, which already holds the scripts."
)


class VendorJsHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        state = vendored_state(root)
        if state == "current":
            self.app.display_debug("cairn: vendored Vega scripts are up to date")
            return
        npm = shutil.which("npm")
        if npm is None:
            if state == "stale" and version == "editable":
                self.app.display_warning(
                    "cairn: npm is not on PATH; this editable install uses the vendored Vega scripts "
                    f"already in {VENDOR}, which do not match js/package-lock.json"
                )
                return
            self.app.abort(f"cairn: {NO_NPM}")
            raise RuntimeError(NO_NPM)  # abort() exits; this is for a hatchling that does not
        self.app.display_info("cairn: vendoring the Vega scripts with `npm ci --ignore-scripts` (js/)")
        try:
            stamp = vendor_scripts(root, npm)
        except (OSError, RuntimeError) as e:
            self.app.abort(f"cairn: could not vendor the Vega scripts: {e}")
            raise
        versions = ", ".join(f"{k} {v}" for k, v in sorted(stamp["versions"].items()))
        self.app.display_info(f"cairn: vendored {versions} into {VENDOR} and {UI_VENDOR}")
