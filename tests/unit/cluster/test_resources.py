"""Parsing `--resources` and turning it into Ray's task options and a node-fit check."""

from __future__ import annotations

import pytest

from cairn.cluster import resources as res
from cairn.errors import UserInputError


def test_parse_counts_sizes_and_custom_names():
    got = res.parse("cpu=4, GPU=0.5,memory=8G,tpu_v4=2")
    assert got == {"cpu": 4, "gpu": 0.5, "memory": 8 * 1024**3, "tpu_v4": 2}
    assert res.parse("memory=512M")["memory"] == 512 * 1024**2
    assert res.parse("memory=1.5GiB")["memory"] == int(1.5 * 1024**3)
    assert res.parse("memory=4096")["memory"] == 4096
    assert res.label(got) == "cpu=4,gpu=0.5,memory=8G,tpu_v4=2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpu", "bad resource 'cpu': expected NAME=AMOUNT"),
        ("cpu=", "bad resource 'cpu=': expected NAME=AMOUNT"),
        ("cpu=four", "bad amount for cpu: 'four' is not a number"),
        ("gpu=-1", "bad amount for gpu: '-1' must be a number >= 0"),
        ("cpu=nan", "bad amount for cpu: 'nan' must be a number >= 0"),
        ("memory=8X", "bad amount for memory: '8X'"),
        ("cpu=1,cpu=2", "resource 'cpu' is given twice"),
        ("1x=2", "bad resource name '1x'"),
        (" , ", "--resources is empty"),
    ],
)
def test_bad_requests_say_what_is_wrong(text, message):
    with pytest.raises(UserInputError) as e:
        res.parse(text)
    assert e.value.message == message
    assert e.value.hint


def test_ray_options_and_fit():
    asked = res.parse("cpu=2,gpu=1,memory=1G,tpu=1")
    assert res.ray_options(asked) == {
        "num_cpus": 2.0,
        "num_gpus": 1.0,
        "memory": 1024**3,
        "resources": {"tpu": 1.0},
    }
    assert res.ray_options(None) == {"num_cpus": 1.0, "num_gpus": 0}
    gpu_node = {"CPU": 4.0, "GPU": 1.0, "memory": 8.0 * 1024**3, "tpu": 1.0}
    cpu_node = {"CPU": 8.0, "memory": 8.0 * 1024**3}
    request = res.ray_request(asked)
    assert res.fits(request, gpu_node)
    assert not res.fits(request, cpu_node)
    assert res.fits(res.ray_request(None), cpu_node)
    assert res.describe_nodes([cpu_node, {"CPU": 1.0, "node:10.0.0.1": 1.0}]) == ("2 nodes: CPU=1; CPU=8 memory=8G")
    assert res.describe_nodes([]) == "no live node"
