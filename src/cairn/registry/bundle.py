"""The files of a deployable bundle, written from what the repository layer gathered: the
model card, requirements, Dockerfile and bundle.json. A bundle is one version: bundle.json pins
the model by its object id.

    DIR/bundle.json          artifact, version, stage, commit, object id, entry point, signature
    DIR/model/NAME           the model file or folder
    DIR/code/...             the entry point's module (its .py files at the commit)
    DIR/serve.py             the server (runs without cairn: starlette + uvicorn)
    DIR/input_example.json   the declared input example
    DIR/lineage.json         where the model came from (cairn lineage --json)
    DIR/requirements.txt     pinned to the environment the model was trained in
    DIR/Dockerfile           python + requirements + `python serve.py`
    DIR/MODEL_CARD.md        metrics, params, data versions, checks verdict, who and when"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import ServingError

if TYPE_CHECKING:
    from cairn.scm.git import Git

BUNDLE_FORMAT = 1
SERVE_PINS = ("starlette", "uvicorn")  # what serve.py itself needs


def write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def requirements(pinned: str, installed: dict[str, str]) -> str:
    """The training environment's pins (cairn itself left out: serve.py does not need it),
    plus the web stack when the training environment did not have it."""
    lines = [ln for ln in pinned.splitlines() if not ln.lower().startswith("cairn==")]
    names = {ln.split("==", 1)[0].lower() for ln in lines if "==" in ln}
    for dist in SERVE_PINS:
        if dist not in names:
            lines.append(f"{dist}=={installed[dist]}" if dist in installed else dist)
    return "\n".join(lines) + "\n"


def dockerfile(python: str) -> str:
    return (
        "# the model server: docker build -t model . && docker run -p 8080:8080 model\n"
        f"FROM python:{python}-slim\n"
        "WORKDIR /bundle\n"
        "COPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "COPY . .\n"
        "EXPOSE 8080\n"
        'CMD ["python", "serve.py", "--host", "0.0.0.0", "--port", "8080"]\n'
    )


def lineage_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Data versions, params and code revision out of a lineage document."""
    data = [
        {"path": n.get("path"), "oid": n.get("oid"), "commit": (n.get("introduced") or {}).get("commit")}
        for n in doc.get("nodes") or []
        # git files are code, pinned by the commit: "Data versions" lists what cairn tracks
        if n.get("stage") is None and n.get("tracked") != "git" and n.get("path") != doc.get("target")
    ]
    params: dict[str, Any] = {}
    for st in doc.get("stages") or []:
        for file, values in (st.get("params") or {}).items():
            params.setdefault(file, {}).update(values if isinstance(values, dict) else {})
    return {"commit": doc.get("commit"), "data": data, "params": params, "error": doc.get("error")}


def model_card(meta: dict[str, Any], metrics: dict[str, Any], checks: dict[str, Any] | None) -> str:
    reg = meta.get("registered") or {}
    when = datetime.fromtimestamp(reg["created_at"], UTC).isoformat() if reg.get("created_at") else "-"
    lines = [
        f"# {meta['artifact']} {meta['version']}",
        "",
        meta.get("desc") or "",
        "",
        f"- stage: {meta.get('stage') or '-'}",
        f"- commit: {meta['commit']}",
        f"- object id: {meta['oid']} ({meta['kind']})",
        f"- registered by {reg.get('author') or '-'} <{reg.get('author_email') or '-'}> at {when}",
        f"- message: {reg.get('message') or '-'}",
        f"- labels: {', '.join(meta.get('labels') or []) or '-'}",
        f"- entry point: {meta.get('serve') or '-'}",
        "",
        "## Metrics",
        "",
    ]
    flat = [(path, k, v) for path, values in metrics.items() for k, v in (values or {}).items()]
    if flat:
        lines += ["| file | metric | value |", "|---|---|---|", *(f"| {p} | {k} | {v} |" for p, k, v in flat)]
    else:
        lines.append("none recorded at this commit")
    lineage = meta.get("lineage") or {}
    lines += ["", "## Params", ""]
    params = [(f, k, v) for f, values in (lineage.get("params") or {}).items() for k, v in values.items()]
    lines += [f"- {f}: {k} = {v}" for f, k, v in params] or ["none recorded"]
    lines += ["", "## Data versions", ""]
    lines += [f"- {d['path']}: {d['oid']} (commit {str(d['commit'])[:7]})" for d in lineage.get("data") or []] or [
        "none recorded"
    ]
    lines += ["", "## Checks", ""]
    if checks is None:
        lines.append("not run (no `checks:` in cairn.yaml, or checks are not available)")
    else:
        lines.append(f"verdict: {'passed' if checks.get('passed') else 'FAILED'}")
        lines += [f"- {c}" for c in checks.get("lines") or []]
    sig = meta.get("signature")
    if sig:
        lines += ["", "## Signature", ""]
        lines += [f"- input {c}: {t}" for c, t in (sig.get("inputs") or {}).items()]
        lines += [f"- output {c}: {t}" for c, t in (sig.get("outputs") or {}).items()]
    return "\n".join(lines) + "\n"


def publish_dir(staged: Path, dest: Path) -> None:
    """Move a finished bundle folder into place."""
    os.replace(staged, dest)


def publish_tar(staged: Path, dest: Path) -> None:
    """Pack the finished bundle as DEST (a .tar.gz whose top folder is the bundle's name)."""
    import gzip
    import tarfile

    # written beside the staged folder (the caller's scratch folder, on dest's file system), so
    # a failure leaves no part file; the gzip header names the archive, not the temporary file
    tmp = staged.with_name(dest.name)
    top = dest.name.removesuffix(".tar.gz").removesuffix(".tgz")
    with (
        open(tmp, "wb") as f,
        gzip.GzipFile(dest.name, "wb", fileobj=f) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        tar.add(staged, arcname=top)
    os.replace(tmp, dest)


def copy_code(git: Git, commit: str, entry: str, dest: Path) -> list[str]:
    """The .py files of the entry point's top-level module or package at `commit` (at the root
    or under src/), into `dest`."""
    top = entry.partition(":")[0].split(".")[0]
    for base in ("", "src/"):
        single = git.read_file(commit, f"{base}{top}.py")
        if single is not None:
            (dest / f"{top}.py").write_bytes(single)
            return [f"{base}{top}.py"]
        prefix = f"{base}{top}/"
        files = [(p, d) for p, d in git.files_with_suffix(commit, ".py") if p.startswith(prefix)]
        if files:
            for path, data in files:
                target = dest / path[len(base) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return [p for p, _ in files]
    return []  # the import fails with its own message when the bundle is checked or served


def check(folder: Path) -> str:
    """Run the bundle's serve.py on its input example in a fresh interpreter; what it said."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "serve.py", "--check"], cwd=folder, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        first = next((ln for ln in lines if ln.startswith("error: ")), lines[-1] if lines else "it failed")
        err = ServingError(
            f"the bundle's entry point fails its input example: {first.removeprefix('error: ')}",
            "fix the entry point or the example, commit and register a new version (-v shows the traceback)",
        )
        err.detail = proc.stderr  # type: ignore[attr-defined]
        raise err
    return proc.stdout.strip()
