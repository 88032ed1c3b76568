"""Capturing the environment: the record's fields, nvidia-smi present, missing, hanging or
failing (a fake nvidia-smi on PATH), the machine-part cache and when it is measured again."""

from __future__ import annotations

import os
import sys

import pytest

from cairn.environment import capture as capture_mod
from cairn.environment import gpus
from cairn.environment.capture import capture
from cairn.environment.record import decode, encode
from cairn.errors import DataError

SMI_XML = """<?xml version="1.0" ?>
<nvidia_smi_log>
  <driver_version>550.54.15</driver_version>
  <cuda_version>12.4</cuda_version>
  <attached_gpus>1</attached_gpus>
  <gpu id="00000000:01:00.0">
    <product_name>NVIDIA A100-SXM4-40GB</product_name>
    <fb_memory_usage><total>40960 MiB</total><used>0 MiB</used></fb_memory_usage>
  </gpu>
</nvidia_smi_log>
"""


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """Put an nvidia-smi shell script with the given body first on PATH."""

    def make(body: str) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        exe = bin_dir / "nvidia-smi"
        exe.write_text(f"#!/bin/sh\n{body}\n")
        exe.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    return make


def test_the_record_holds_interpreter_system_hardware_packages_and_variables(monkeypatch):
    monkeypatch.setenv("CAIRN_TEST_SEED", "7")
    monkeypatch.delenv("CAIRN_TEST_UNSET", raising=False)
    record = capture(["CAIRN_TEST_SEED", "CAIRN_TEST_UNSET"])
    assert record["version"] == 1
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert record["python"]["implementation"] == sys.implementation.name.replace("cpython", "CPython")
    assert record["os"]["system"] and record["machine"]
    assert record["cpu"]["count"] == os.cpu_count()
    assert any(p.startswith("blake3==") for p in record["packages"])
    assert record["vars"] == {"CAIRN_TEST_SEED": "7", "CAIRN_TEST_UNSET": None}
    # canonical: the same record is the same bytes, whatever the key order
    assert encode(record) == encode(dict(reversed(list(record.items()))))
    assert decode(encode(record), "x" * 64) == record


def test_no_nvidia_smi_is_no_gpu_and_no_note(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpus.gpus() == ({}, [])


def test_gpus_driver_and_cuda_come_from_nvidia_smi(fake_smi):
    fake_smi(f"cat <<'XML'\n{SMI_XML}XML")
    gpu, notes = gpus.gpus()
    assert notes == []
    assert gpu == {
        "devices": [{"name": "NVIDIA A100-SXM4-40GB", "memory": "40960 MiB"}],
        "driver": "550.54.15",
        "cuda": "12.4",
    }


def test_a_hanging_nvidia_smi_is_stopped_and_noted(fake_smi):
    # the child `sleep` holds the pipe too: the whole process group must be stopped
    fake_smi("sleep 30")
    gpu, notes = gpus.gpus(timeout=0.3)
    assert gpu == {}
    assert notes == ["nvidia-smi did not answer within 0.3 s; GPUs not recorded"]


def test_a_failing_nvidia_smi_is_noted_not_raised(fake_smi, monkeypatch):
    fake_smi("echo 'NVIDIA-SMI has failed because it could not communicate with the driver' >&2; exit 9")
    record = capture(gpu_timeout=5)
    assert record["gpu"] == {}
    assert record["notes"] == [
        "nvidia-smi failed (exit code 9): NVIDIA-SMI has failed because it could not communicate with the "
        "driver; GPUs not recorded"
    ]


def test_garbage_from_nvidia_smi_is_noted(fake_smi):
    fake_smi("echo not xml")
    assert gpus.gpus() == ({}, ["nvidia-smi printed something that is not its XML report; GPUs not recorded"])


def test_the_machine_part_is_cached_until_an_install_touches_sys_path(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    measured = []
    real = capture_mod.machine
    monkeypatch.setattr(capture_mod, "machine", lambda t: measured.append(1) or real(t))
    cache = tmp_path / "cache"
    first = capture(["HOME"], cache)
    second = capture(["HOME"], cache)
    assert len(measured) == 1 and first == second
    (site / "newpkg-1.0.dist-info").mkdir()  # what an install does to site-packages
    os.utime(site, ns=(1, 1))  # a different mtime, whatever the file system's resolution
    capture(["HOME"], cache)
    assert len(measured) == 2
    for file in cache.glob("*.json"):
        file.write_text("{damaged")
    assert capture(["HOME"], cache) == first
    assert len(measured) == 3


def test_the_cache_keeps_the_newest_few_files(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for i in range(12):
        (cache / f"{i:032x}.json").write_text("{}")
        os.utime(cache / f"{i:032x}.json", ns=(i * 10**9, i * 10**9))
    capture([], cache)
    kept = sorted(p.name for p in cache.glob("*.json"))
    assert len(kept) == 8 and f"{11:032x}.json" in kept and f"{0:032x}.json" not in kept


def test_undecodable_and_unknown_version_records_are_refused():
    with pytest.raises(DataError) as e:
        decode(b"\xff not json", "d" * 64)
    assert e.value.message == "environment record dddddddddddd is not an environment record"
    with pytest.raises(DataError) as e:
        decode(b'{"version": 9}', "d" * 64)
    assert e.value.message == "environment record dddddddddddd has format version 9; this cairn reads 1"
    assert e.value.hint == "upgrade cairn"
