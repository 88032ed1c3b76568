"""Dumb byte storage for remotes: put, get, exists, list, delete over a local folder, memory or
fsspec (s3, gs, az, ssh). Every backend passes one conformance suite (tests/conformance)."""

from cairn.storage.base import Storage, open_storage

__all__ = ["Storage", "open_storage"]
