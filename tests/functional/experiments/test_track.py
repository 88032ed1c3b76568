"""The tracking API (`from cairn import track`) as a training script uses it: a plain
`python train.py` outside any pipeline, and inside a queued experiment (live metrics)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import zlib

import pytest
import yaml

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature and the chunk's CRC."""
    assert data[:8] == PNG_MAGIC, data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
    width, height = struct.unpack(">II", body[:8])
    return width, height


def tiny_png(width: int, height: int) -> bytes:
    """A grey PNG written independently of cairn."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(range(width)) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def run_python(script: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python train.py` with the venv's interpreter, no cairn repository anywhere."""
    (cwd / "train.py").write_text(textwrap.dedent(script))
    proc = subprocess.run(
        [sys.executable, "train.py"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_plain_script_outside_any_pipeline(tmp_path):
    (tmp_path / "sample.png").write_bytes(tiny_png(5, 3))
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 1234)
    run_python(
        """
        from cairn import track

        with track.Run() as run:
            run.log_param("lr", 0.01)
            run.log_params({"depth": 4, "optimizer": "adam"})
            for epoch in range(3):
                run.log_metric("loss", 1.0 / (epoch + 1))
                run.log_metric("acc", 0.5 + epoch / 10)
                run.next_step()
            run.log_metric("val_acc", 0.9, step=10)
            run.log_image("sample", "sample.png")
            run.log_artifact("weights.bin")
        """,
        tmp_path,
    )
    track = tmp_path / "track"
    # metrics.json: the latest value of each metric, and the step
    assert json.loads((track / "metrics.json").read_text()) == {
        "loss": pytest.approx(1 / 3),
        "acc": 0.7,
        "val_acc": 0.9,
        "step": 10,
    }
    # one TSV per metric: step and value, one row per logged value
    loss = (track / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    assert loss[0] == "step\tloss"
    assert [(int(s), float(v)) for s, v in (ln.split("\t") for ln in loss[1:])] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert (track / "plots" / "metrics" / "val_acc.tsv").read_text() == "step\tval_acc\n10\t0.9\n"
    assert yaml.safe_load((track / "params.yaml").read_text()) == {"lr": 0.01, "depth": 4, "optimizer": "adam"}
    # an image logged from a file keeps its type: a real PNG comes out
    assert png_size((track / "images" / "sample.png").read_bytes()) == (5, 3)
    (artifact,) = json.loads((track / "artifacts.json").read_text())
    assert artifact["path"] == "weights.bin" and artifact["size"] == 1234


def test_a_numpy_array_becomes_a_png(tmp_path):
    pytest.importorskip("numpy", reason="numpy is not installed in the venv; log_image of an array needs it")
    run_python(
        """
        import numpy as np
        from cairn import track

        with track.Run() as run:
            run.log_image("grey", np.zeros((4, 7), dtype=np.uint8))
            run.log_image("rgb.png", np.full((6, 2, 3), 200, dtype=np.uint8))
        """,
        tmp_path,
    )
    assert png_size((tmp_path / "track" / "images" / "grey.png").read_bytes()) == (7, 4)
    assert png_size((tmp_path / "track" / "images" / "rgb.png").read_bytes()) == (2, 6)


def test_the_track_folder_can_be_chosen(tmp_path):
    run_python(
        """
        from cairn import track

        with track.Run(dir="out/run1") as run:
            run.log_metric("acc", 1)
        with track.Run() as run:  # $CAIRN_TRACK_DIR
            run.log_metric("acc", 2)
        """,
        tmp_path,
        env={"CAIRN_TRACK_DIR": "logs"},
    )
    assert json.loads((tmp_path / "out" / "run1" / "metrics.json").read_text()) == {"acc": 1, "step": 0}
    assert json.loads((tmp_path / "logs" / "metrics.json").read_text()) == {"acc": 2, "step": 0}
    assert not (tmp_path / "track").exists()


def test_queue_status_shows_live_metrics_of_a_running_experiment(exp_repo, markers):
    started, go = markers / "live.pid", markers / "go"
    exp_repo.exp(
        "run", "--queue", "-n", "live", "-S", "train.lr=0.4", "-S", f"sync.signal={started}", "-S", f"sync.wait={go}"
    )
    exp_repo.queue("start")
    exp_repo.wait_until(started.exists, what="the stage to log and wait")

    (entry,) = json.loads(exp_repo.queue("status", "--json").stdout)
    assert entry["status"] == "running"
    assert entry["live"] == {"acc": 0.62, "loss": 0.38, "step": 1}
    assert exp_repo.listed() == {}  # not recorded before it finishes

    go.touch()
    entry = exp_repo.wait_queue()["live"]
    assert entry["status"] == "success" and entry["live"] == {}
    row = exp_repo.by_name()["live"]
    assert (row["metrics.acc"], row["metrics.step"]) == (0.62, 1)
    # the TSV series went into the experiment's commit with the metrics
    tsv = exp_repo.show_file("live", "track/plots/metrics/acc.tsv")
    assert tsv == "step\tacc\n0\t0.31\n1\t0.62\n"


@pytest.mark.parametrize("declared", [True, False], ids=["declared-elsewhere", "undeclared"])
def test_live_metrics_come_from_the_metrics_files_the_pipeline_declares(exp_repo, markers, declared):
    # the train stage logs to reports/ (with $CAIRN_TRACK_DIR) and declares reports/metrics.json;
    # undeclared, it logs to track/ (the default), which is still read
    text = exp_repo.read("cairn.yaml")
    if declared:
        text = text.replace(
            "cmd: " + sys.executable + " train.py", "cmd: CAIRN_TRACK_DIR=reports " + sys.executable + " train.py"
        )
        text = text.replace("track/metrics.json", "reports/metrics.json").replace("track/plots", "reports/plots")
    else:
        text = text.split("    metrics:")[0]
    exp_repo.write("cairn.yaml", text)
    exp_repo.git("rm", "-rq", "track")  # no metrics from the baseline in the experiment's workspace
    exp_repo.commit("metrics elsewhere")
    started, go = markers / "live.pid", markers / "go"
    exp_repo.exp(
        "run", "--queue", "-n", "lv", "-S", "train.lr=0.3", "-S", f"sync.signal={started}", "-S", f"sync.wait={go}"
    )
    exp_repo.queue("start")
    try:
        exp_repo.wait_until(started.exists, what="the stage to log and wait")
        (entry,) = json.loads(exp_repo.queue("status", "--json").stdout)
        assert entry["status"] == "running"
        assert entry["live"] == {"acc": 0.72, "loss": 0.28, "step": 1}
        assert "acc=0.72 loss=0.28 step=1" in exp_repo.queue("status").stdout
    finally:
        go.touch()
    assert exp_repo.wait_queue()["lv"]["status"] == "success"
