"""Comparing environment records: each difference named as a person says it."""

from __future__ import annotations

from cairn.environment.compare import changes

OLD = {
    "version": 1,
    "python": {"version": "3.11.9", "implementation": "CPython"},
    "os": {"system": "Linux", "release": "6.1.0", "platform": "Linux-6.1.0-x86_64"},
    "machine": "x86_64",
    "cpu": {"model": "AMD EPYC", "count": 2},
    "gpu": {},
    "packages": ["numpy==2.4.1", "Pillow==10.0.0", "scikit_learn==1.5.0"],
    "vars": {"SEED": "1", "ONLY_OLD": "x"},
    "notes": ["nvidia-smi did not answer within 5 s; GPUs not recorded"],
}


def test_the_same_record_has_no_change():
    assert changes(OLD, dict(OLD)) == []


def test_each_difference_is_named():
    new = {
        **OLD,
        "python": {"version": "3.12.3", "implementation": "CPython"},
        "machine": "arm64",
        "cpu": {"model": "AMD EPYC", "count": 8},
        "gpu": {"devices": [{"name": "A100", "memory": "40960 MiB"}], "driver": "550", "cuda": "12.4"},
        # Pillow upgraded, scikit-learn spelled another way (same distribution), numpy removed, torch added
        "packages": ["pillow==11.0.0", "scikit-learn==1.5.0", "torch==2.5.0"],
        "vars": {"SEED": "2"},
        "notes": [],
    }
    assert [str(c) for c in changes(OLD, new)] == [
        "python 3.11.9 -> 3.12.3",
        "architecture x86_64 -> arm64",
        "cpu count 2 -> 8",
        "gpus (none) -> A100",
        "nvidia driver (none) -> 550",
        "cuda (none) -> 12.4",
        "numpy 2.4.1 -> (none)",
        "pillow 10.0.0 -> 11.0.0",
        "torch (none) -> 2.5.0",
        "$SEED 1 -> 2",
    ]
    first = changes(OLD, new)[0]
    assert first.to_dict() == {"kind": "python", "name": "python", "old": "3.11.9", "new": "3.12.3", "text": str(first)}


def test_a_variable_set_to_unset_is_a_change():
    assert [str(c) for c in changes(OLD, {**OLD, "vars": {"SEED": None, "ONLY_OLD": "x"}})] == ["$SEED 1 -> (none)"]
