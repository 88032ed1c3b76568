"""NVIDIA GPUs, their driver and CUDA versions, from `nvidia-smi -q -x`. No nvidia-smi means no
GPU to record (not an error); one that hangs or fails is reported as a note, never raised: a
stage run must not depend on a GPU tool's health."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the XML parser is imported when nvidia-smi answers (~5 ms every command otherwise)
    import xml.etree.ElementTree as ET

TIMEOUT_S = 5.0


def gpus(timeout: float = TIMEOUT_S) -> tuple[dict[str, Any], list[str]]:
    """({"devices": [{name, memory}], "driver": ..., "cuda": ...} or {}, notes)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}, []
    import signal
    import subprocess  # here: `status` and `repro` load this module and mostly never start it

    try:
        # its own session, so that on a timeout the whole tree is stopped (a child holding the
        # pipe open would keep communicate() waiting)
        proc = subprocess.Popen(
            [exe, "-q", "-x"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        return {}, [f"nvidia-smi could not start ({e.strerror or e}); GPUs not recorded"]
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return {}, [f"nvidia-smi did not answer within {timeout:g} s; GPUs not recorded"]
    if proc.returncode != 0:
        first = (err or out).decode(errors="replace").strip().splitlines()[:1]
        why = f": {first[0][:200]}" if first else ""
        return {}, [f"nvidia-smi failed (exit code {proc.returncode}){why}; GPUs not recorded"]
    from xml.etree.ElementTree import ParseError

    try:
        return parse(out), []
    except ParseError:
        return {}, ["nvidia-smi printed something that is not its XML report; GPUs not recorded"]


def parse(xml: bytes) -> dict[str, Any]:
    from xml.etree.ElementTree import fromstring

    root = fromstring(xml)
    devices = [
        {"name": _text(g, "product_name"), "memory": _text(g, "fb_memory_usage/total")} for g in root.iter("gpu")
    ]
    return {"devices": devices, "driver": _text(root, "driver_version"), "cuda": _text(root, "cuda_version")}


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    return found.text.strip() if found is not None and found.text else None
