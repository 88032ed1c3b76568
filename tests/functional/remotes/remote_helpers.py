"""Seeing a remote from outside cairn: its files in a folder or a bucket (S3, Azure, GCS; through
each service's own client, not fsspec), its layout (docs:
packs/<id>.pack + .idx, objects/<2>/<62>) read with json and blake3 only, never with cairn code;
and a deterministic dataset."""

from __future__ import annotations

import json
import random
from pathlib import Path

from blake3 import blake3
from s3server import s3_client

BIG_SIZE = 2 * 1024 * 1024 + 4321  # above the 2 MiB pack threshold: travels loose
PACK_SIZE = 4096  # small packs, so a small dataset makes several


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


class RemoteFiles:
    """The files of a remote, seen from outside cairn: a folder or a bucket prefix (S3 through
    boto3, Azure through a ContainerClient, GCS through tests/emulators.FakeGcs)."""

    def __init__(
        self, kind: str, url: str, folder: Path | None = None, endpoint: str | None = None, azure=None, gcs=None
    ) -> None:
        self.kind, self.url, self.folder, self.endpoint = kind, url, folder, endpoint
        self.azure, self.gcs = azure, gcs
        if kind != "local":
            self.bucket, _, self.prefix = url.split("://", 1)[1].partition("/")
        if kind == "s3":
            self.s3 = s3_client(endpoint)

    # -- raw files --------------------------------------------------------------------------
    def keys(self) -> dict[str, int]:
        if self.kind == "local":
            assert self.folder is not None
            if not self.folder.exists():
                return {}
            return {
                p.relative_to(self.folder).as_posix(): p.stat().st_size
                for p in self.folder.rglob("*")
                if p.is_file() and ".tmp" not in p.relative_to(self.folder).parts
            }
        if self.kind == "az":
            blobs = self.azure.list_blobs(name_starts_with=self.prefix + "/")
            return {b.name[len(self.prefix) + 1 :]: b.size for b in blobs}
        if self.kind == "gs":
            found = self.gcs.keys(self.bucket, self.prefix)
            return {name[len(self.prefix) + 1 :]: size for name, size in found.items()}
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + "/"):
            for obj in page.get("Contents", []):
                out[obj["Key"][len(self.prefix) + 1 :]] = obj["Size"]
        return out

    def read(self, key: str) -> bytes:
        if self.kind == "local":
            assert self.folder is not None
            return (self.folder / key).read_bytes()
        if self.kind == "az":
            return self.azure.download_blob(f"{self.prefix}/{key}").readall()
        if self.kind == "gs":
            return self.gcs.read(self.bucket, f"{self.prefix}/{key}")
        return self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        if self.kind == "local":
            assert self.folder is not None
            (self.folder / key).write_bytes(data)
        else:
            self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)

    def delete(self, key: str) -> None:
        if self.kind == "local":
            assert self.folder is not None
            (self.folder / key).unlink()
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")

    # -- the layout -------------------------------------------------------------------------
    def packs(self) -> dict[str, list[tuple[str, int, int]]]:
        """pack id -> [oid, offset, size] rows, from every packs/<id>.idx."""
        out = {}
        for key in self.keys():
            if key.startswith("packs/") and key.endswith(".idx"):
                doc = json.loads(self.read(key))
                assert doc["version"] == 1
                out[key[len("packs/") : -len(".idx")]] = [tuple(r) for r in doc["objects"]]
        return out

    def loose(self) -> dict[str, int]:
        """oid -> size of every object stored loose under objects/."""
        return {
            k.split("/")[1] + k.split("/")[2]: size
            for k, size in self.keys().items()
            if k.startswith("objects/") and k.count("/") == 2
        }

    def held(self) -> set[str]:
        """Every object the remote holds: in an indexed pack that exists, or loose."""
        keys = self.keys()
        packed = {row[0] for pid, rows in self.packs().items() if f"packs/{pid}.pack" in keys for row in rows}
        return packed | set(self.loose())

    def locate(self, oid: str) -> tuple[str, int, int]:
        """(remote key, offset, size) of an object."""
        for pack_id, rows in self.packs().items():
            for row_oid, off, size in rows:
                if row_oid == oid:
                    return f"packs/{pack_id}.pack", off, size
        loose = self.loose()
        assert oid in loose, f"{oid} is not on the remote"
        return f"objects/{oid[:2]}/{oid[2:]}", 0, loose[oid]

    def corrupt(self, oid: str) -> str:
        """Flip bytes inside the object where it is stored (its pack or its loose file); the
        file keeps its size. Returns the damaged key."""
        key, off, size = self.locate(oid)
        data = bytearray(self.read(key))
        for i in range(off, off + min(size, 8)):
            data[i] ^= 0xFF
        self.write(key, bytes(data))
        return key

    def assert_sound(self) -> None:
        """Nothing half-written is taken for complete: every indexed pack exists, is named by
        the hash of its rows (docs/remotes.md), holds exactly the objects its index lists and
        their bytes; every loose object hashes to its name."""
        keys = self.keys()
        for pack_id, rows in self.packs().items():
            assert f"packs/{pack_id}.pack" in keys, f"index {pack_id}.idx without its pack"
            data = self.read(f"packs/{pack_id}.pack")
            listed = json.dumps(sorted(rows), separators=(",", ":")).encode()
            assert b3(listed) == pack_id, f"pack {pack_id} is not named by its rows"
            assert sum(size for _, _, size in rows) == len(data), f"pack {pack_id} holds bytes it does not list"
            for oid, off, size in rows:
                assert b3(data[off : off + size]) == oid, f"{oid} in pack {pack_id} is damaged"
        for oid in self.loose():
            assert b3(self.read(f"objects/{oid[:2]}/{oid[2:]}")) == oid, f"loose {oid} is damaged"


def dataset_files(count: int = 40, size: int = 300, seed: int = 0) -> dict[str, bytes]:
    """data/: small files in nested folders plus one file large enough to travel loose."""
    rng = random.Random(seed)
    files = {f"data/s{i % 3}/t{i // 3 % 2}/f{i:03d}.bin": rng.randbytes(size + i % 7) for i in range(count)}
    files["data/big.bin"] = rng.randbytes(BIG_SIZE)
    files["data/empty.txt"] = b""
    return files


def workspace_files(root: Path, *tops: str) -> dict[str, bytes]:
    """rel path -> bytes of every file under the given top-level paths."""
    out = {}
    for top in tops:
        path = root / top
        if path.is_file():
            out[top] = path.read_bytes()
        elif path.is_dir():
            for p in path.rglob("*"):
                if p.is_file():
                    out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def objects_of(project, *tops: str) -> dict[str, int]:
    """oid -> size of every object a tracked path consists of (files and trees), computed
    from the workspace without cairn."""
    oids = {}
    for top in tops:
        path = project.root / top
        if path.is_file():
            oids[b3(path.read_bytes())] = path.stat().st_size
        else:
            oids.update((oid, len(data)) for oid, data in project.expected_trees(top).items())
            oids.update((b3(p.read_bytes()), p.stat().st_size) for p in path.rglob("*") if p.is_file())
    return oids
