"""Environment as code: a recorded environment as pinned requirements, or as a Dockerfile that
rebuilds the run (the recorded Python, the pinned distributions, the repository at the commit,
`cairn pull && cairn repro`)."""

from __future__ import annotations

from typing import Any

from cairn.environment.compare import versions

# what a requirements file cannot pin for pip to install into another environment
_NOT_PINNED = {"pip", "setuptools", "wheel", "distribute"}


def requirements(record: dict[str, Any], source: str) -> str:
    py = record.get("python") or {}
    lines = [
        f"# the distributions recorded with {source}",
        f"# python {py.get('version')} ({py.get('implementation')}) on {record.get('machine')}",
    ]
    for key, (name, version) in sorted(versions(record).items()):
        if key not in _NOT_PINNED:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def dockerfile(record: dict[str, Any], source: str, commit: str | None, stages: list[str]) -> str:
    """Built from a clone of the repository (the build context), checked out at `commit`."""
    py = (record.get("python") or {}).get("version") or "3"
    pins = [line for line in requirements(record, source).splitlines() if not line.startswith("#")]
    install = " \\\n    ".join(pins)
    checkout = f"RUN git checkout --quiet {commit}\n" if commit else ""
    targets = " ".join(stages)
    return (
        f"# rebuilds the run recorded with {source}: docker build -t rerun . && docker run rerun\n"
        f"FROM python:{py}-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends git "
        "&& rm -rf /var/lib/apt/lists/*\n"
        + (f"RUN pip install --no-cache-dir \\\n    {install}\n" if pins else "")
        + "WORKDIR /project\n"
        "COPY . /project\n"
        f"{checkout}"
        f'CMD ["sh", "-c", "cairn pull && cairn repro{(" " + targets) if targets else ""}"]\n'
    )
