"""cairn.experiments.record: the commit message format, metrics and params reading, environment,
the live values `queue status` shows."""

from __future__ import annotations

import email
import json
import platform
from importlib import metadata
from pathlib import Path

from cairn.experiments.record import (
    ExpInfo,
    _header_fields,
    environment,
    live_metrics,
    packages,
    parse_message,
    read_metrics,
    ref_name,
)


def test_message_round_trip():
    info = ExpInfo(
        name="brisk-otter",
        baseline="a" * 40,
        status="failed",
        created=1.5,
        overrides=["train.lr=0.1"],
        params={"params.yaml": {"train.lr": 0.1}},
        metrics={"m.json": {"acc": 0.5}},
        env={"python": "3.11"},
        exit_code=1,
        error="boom",
        log="f" * 64,
    )
    msg = info.message()
    assert msg.startswith("cairn experiment: brisk-otter\n\n")
    back = parse_message(msg, "c" * 40, ref_name("a" * 40, "brisk-otter"))
    assert back.to_dict() == {**info.to_dict(), "commit": "c" * 40, "ref": f"refs/cairn/exps/{'a' * 40}/brisk-otter"}


def test_messages_that_are_not_experiments_or_of_another_version():
    assert parse_message("a normal commit\n", "c", "r") is None
    assert parse_message("cairn experiment: x\n\nnot json", "c", "r") is None
    assert parse_message('cairn experiment: x\n\n{"version": 99, "name": "x"}', "c", "r") is None
    assert parse_message('cairn experiment: x\n\n{"version": 1}', "c", "r") is None  # fields missing


def test_read_metrics_of_each_format(tmp_path):
    (tmp_path / "m.json").write_text('{"acc": 0.9, "nested": {"f1": 0.5}}')
    (tmp_path / "m.yaml").write_text("loss: 0.1\n")
    (tmp_path / "m.csv").write_text("step,acc\n0,0.5\n1,0.75\n")
    (tmp_path / "m.tsv").write_text("step\tname\n3\tx\n")
    (tmp_path / "broken.json").write_text("{")
    out = read_metrics(tmp_path, ["m.json", "m.yaml", "m.csv", "m.tsv", "broken.json", "missing.json"])
    assert out == {
        "m.json": {"acc": 0.9, "nested.f1": 0.5},
        "m.yaml": {"loss": 0.1},
        "m.csv": {"step": 1, "acc": 0.75},
        "m.tsv": {"step": 3, "name": "x"},
    }


def test_environment():
    env = environment("b" * 40, dirty=True)
    assert env["python"] == platform.python_version()
    assert env["platform"] == platform.platform()
    assert env["commit"] == "b" * 40 and env["dirty"] is True
    assert any(p.startswith("blake3==") for p in env["packages"])
    assert env["packages"] == sorted(env["packages"], key=str.lower)
    assert len(env["fingerprint"]) == 16 and env == environment("b" * 40, dirty=True)


def test_packages_are_what_importlib_metadata_says():
    """Read from the header lines only, yet the same names and versions (so fingerprints of
    experiments recorded before stay comparable)."""
    want = {f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}
    assert packages() == want and len(want) > 10


def test_header_fields_read_as_the_email_parser_does():
    cases = [
        "Metadata-Version: 2.1\nName: a\nVersion: 1\n\nName: body\n",
        "Name:a \r\nversion:\t2 \r\n",
        "NAME: x\n y\nVersion: 3",  # a continuation line
        "Name: x\r\n\tmore\r\nVersion: 1\r\n",
        " continuation first\nName: z\n",
        "Metadata-Version: 2.1\nnot a header\nName: q\n",  # the body starts early
        "Name: a\nName: b\nVersion: 1",  # the first one counts
        "Bad Name: x\nName: y\n",  # a space in a name ends the headers
        "Name: last",
        "Name: a\nVersion: 1\n .post\nSummary: s\n x\n",  # both found: the last one's continuation still counts
        "Name: a\nVersion: 1\nBad Name\nName: b\n",
        "",
    ]
    for text in cases:
        message = email.message_from_string(text)
        want = {k: message[k] for k in ("name", "version") if message[k] is not None}
        assert _header_fields(text, ("name", "version")) == want, text


PIPELINE = """\
stages:
  train:
    cmd: python train.py
    wdir: src
    metrics:
      - out/scores.json: {cache: false}
  eval:
    cmd: python eval.py
    metrics:
      - eval.csv: {cache: false}
"""


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_the_declared_metrics_files_are_read(tmp_path: Path) -> None:
    _write(tmp_path, "cairn.yaml", PIPELINE)
    _write(tmp_path, "track/metrics.json", '{"acc": 0.1}')  # not declared: not read when others are
    assert live_metrics(tmp_path) == {"acc": 0.1}  # nothing declared is written yet: track/
    _write(tmp_path, "src/out/scores.json", json.dumps({"acc": 0.5, "loss": {"train": 0.2}}))
    assert live_metrics(tmp_path) == {"acc": 0.5, "loss.train": 0.2}  # one file: plain keys
    _write(tmp_path, "eval.csv", "step,auc\n0,0.6\n1,0.7\n")
    assert live_metrics(tmp_path) == {  # several files: FILE:KEY, the last row of a CSV
        "src/out/scores.json:acc": 0.5,
        "src/out/scores.json:loss.train": 0.2,
        "eval.csv:step": 1,
        "eval.csv:auc": 0.7,
    }
    _write(tmp_path, "src/out/scores.json", '{"acc": 0.')  # half written: skipped, not an error
    assert live_metrics(tmp_path) == {"step": 1, "auc": 0.7}


def test_without_a_usable_pipeline_track_is_read(tmp_path: Path) -> None:
    assert live_metrics(tmp_path) == {}
    _write(tmp_path, "track/metrics.json", '{"acc": 0.3, "step": 2}')
    assert live_metrics(tmp_path) == {"acc": 0.3, "step": 2}
    _write(tmp_path, "cairn.yaml", "stages: [not, a, mapping]\n")
    assert live_metrics(tmp_path) == {"acc": 0.3, "step": 2}
