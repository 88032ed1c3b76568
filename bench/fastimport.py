"""Writing long git histories in one `git fast-import` run: a bench setup that made hundreds of
commits and tags through `git commit` / `git tag` would spend minutes in git start-ups and time
nothing the workload is about. Standard library only."""

from __future__ import annotations

import subprocess
from pathlib import Path

WHO = "Bench <bench@example.com>"


def blob(path: str, text: str) -> bytes:
    """A file of a commit, given inline."""
    data = text.encode()
    return f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"


def commit(ref: str, mark: int, when: int, message: str, parent: str | None, files: list[bytes]) -> bytes:
    """A commit on `ref` (`parent`: a sha or `:mark`, None for the first) known later as `:mark`."""
    msg = message.encode()
    head = f"commit {ref}\nmark :{mark}\nauthor {WHO} {when} +0000\ncommitter {WHO} {when} +0000\n"
    head += f"data {len(msg)}\n"
    return head.encode() + msg + b"\n" + (f"from {parent}\n".encode() if parent else b"") + b"".join(files) + b"\n"


def tag(name: str, target: str, when: int, message: str) -> bytes:
    """An annotated tag of `target` (`:mark` or a sha) made at `when`."""
    msg = message.encode()
    head = f"tag {name}\nfrom {target}\ntagger {WHO} {when} +0000\ndata {len(msg)}\n"
    return head.encode() + msg + b"\n"


def head(repo: Path) -> tuple[str, str | None]:
    """(the ref HEAD names, its commit or None in an empty repository)."""
    ref = subprocess.run(["git", "symbolic-ref", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    sha = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True, text=True)
    return ref.stdout.strip(), sha.stdout.strip() or None


def run(repo: Path, stream: list[bytes], ref: str) -> None:
    """Import the stream and check the work tree out at `ref`."""
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(stream), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", ref], cwd=repo, check=True)
