"""The repo facade: finds the root, wires the pieces, holds the repo lock."""

from cairn.repo.repo import Repo

__all__ = ["Repo"]
