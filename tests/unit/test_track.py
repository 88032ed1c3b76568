"""cairn.track: the files a training script's Run writes."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
import yaml

from cairn import track


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAIRN_TRACK_DIR", raising=False)
    return tmp_path


def read_json(path):
    return json.loads(path.read_text())


def test_metrics_json_holds_latest_values_and_step(in_tmp):
    with track.Run() as run:
        run.log_metric("loss", 0.9)
        assert read_json(in_tmp / "track" / "metrics.json") == {"loss": 0.9, "step": 0}  # written at once
        run.next_step()
        run.log_metric("loss", 0.5)
        run.log_metric("acc", 0.8, step=7)
    assert read_json(in_tmp / "track" / "metrics.json") == {"loss": 0.5, "acc": 0.8, "step": 7}
    assert (in_tmp / "track/plots/metrics/loss.tsv").read_text() == "step\tloss\n0\t0.9\n1\t0.5\n"
    assert (in_tmp / "track/plots/metrics/acc.tsv").read_text() == "step\tacc\n7\t0.8\n"
    assert track.latest(in_tmp) == {"loss": 0.5, "acc": 0.8, "step": 7}


def test_values_that_are_not_numbers_are_converted(in_tmp):
    class Scalar:  # e.g. a numpy or torch scalar
        def __float__(self):
            return 0.25

    with track.Run() as run:
        run.log_metric("x", Scalar())
    assert read_json(in_tmp / "track/metrics.json") == {"x": 0.25, "step": 0}


def test_a_value_that_is_no_number_names_the_metric(in_tmp):
    with track.Run() as run:
        run.log_metric("x", 0.5)
        with pytest.raises(TypeError, match="metric 'acc': 'abc' is not a number"):
            run.log_metric("acc", "abc")
    assert read_json(in_tmp / "track/metrics.json") == {"x": 0.5, "step": 0}  # nothing half-logged
    assert not (in_tmp / "track/plots/metrics/acc.tsv").exists()


def test_params(in_tmp):
    with track.Run() as run:
        run.log_param("lr", 0.1)
        run.log_params({"depth": 3, "lr": 0.2})
    assert yaml.safe_load((in_tmp / "track/params.yaml").read_text()) == {"lr": 0.2, "depth": 3}


def test_a_new_run_starts_fresh_series_and_resume_continues(in_tmp):
    with track.Run() as run:
        run.log_metric("loss", 1.0)
        run.next_step()
        run.log_metric("loss", 0.5)
    with track.Run(resume=True) as run:
        assert run.step == 1
        run.next_step()
        run.log_metric("loss", 0.25)
    assert (in_tmp / "track/plots/metrics/loss.tsv").read_text() == "step\tloss\n0\t1.0\n1\t0.5\n2\t0.25\n"
    with track.Run() as run:
        run.log_metric("loss", 9.0)
    assert (in_tmp / "track/plots/metrics/loss.tsv").read_text() == "step\tloss\n0\t9.0\n"


def test_metrics_are_written_when_the_script_fails(in_tmp):
    with pytest.raises(RuntimeError), track.Run() as run:
        run.log_metric("loss", 0.5)
        run.next_step()
        raise RuntimeError("diverged")
    assert read_json(in_tmp / "track/metrics.json") == {"loss": 0.5, "step": 1}


def test_folder_from_argument_or_environment(in_tmp, monkeypatch):
    with track.Run(dir=in_tmp / "a") as run:
        run.log_metric("m", 1)
    monkeypatch.setenv("CAIRN_TRACK_DIR", "b")
    with track.Run() as run:
        run.log_metric("m", 2)
    assert read_json(in_tmp / "a/metrics.json")["m"] == 1
    assert read_json(in_tmp / "b/metrics.json")["m"] == 2
    assert track.latest(in_tmp, "b")["m"] == 2
    assert track.latest(in_tmp / "nowhere") == {}


def test_artifacts_are_listed_with_their_size(in_tmp):
    (in_tmp / "model.bin").write_bytes(b"x" * 10)
    (in_tmp / "ckpt").mkdir()
    (in_tmp / "ckpt" / "a").write_bytes(b"y" * 5)
    (in_tmp / "ckpt" / "b").write_bytes(b"z" * 7)
    with track.Run() as run:
        run.log_artifact("model.bin")
        run.log_artifact(in_tmp / "ckpt")
    arts = read_json(in_tmp / "track/artifacts.json")
    assert [(a["path"], a["size"]) for a in arts] == [("model.bin", 10), (str(in_tmp / "ckpt"), 12)]


def test_a_missing_artifact_is_refused_not_listed(in_tmp):
    with track.Run() as run, pytest.raises(FileNotFoundError, match=r"nope\.pt does not exist"):
        run.log_artifact("nope.pt")
    assert not (in_tmp / "track/artifacts.json").exists()


@pytest.mark.parametrize("name", ["../../escape", "/abs", "", "a//b", "a/./b", "a\\b"])
def test_a_name_that_leaves_the_run_folder_is_refused(in_tmp, name):
    (in_tmp / "pic.png").write_bytes(b"\x89PNG fake")
    with track.Run() as run:
        with pytest.raises(ValueError, match="is not a relative name"):
            run.log_metric(name, 1)
        with pytest.raises(ValueError, match="is not a relative name"):
            run.log_image(name, "pic.png")
    assert sorted(p.name for p in in_tmp.rglob("*") if p.is_file()) == ["metrics.json", "pic.png"]


def test_nested_names_make_subfolders(in_tmp):
    (in_tmp / "pic.png").write_bytes(b"\x89PNG fake")
    with track.Run() as run:
        run.log_metric("val/loss", 0.5)
        run.log_image("epoch1/sample", "pic.png")
    assert (in_tmp / "track/plots/metrics/val/loss.tsv").read_text() == "step\tval/loss\n0\t0.5\n"
    assert (in_tmp / "track/images/epoch1/sample.png").exists()


def test_an_image_file_is_copied(in_tmp):
    (in_tmp / "pic.jpg").write_bytes(b"\xff\xd8\xff fake jpeg")
    with track.Run() as run:
        assert run.log_image("sample", "pic.jpg") == track.Path("track/images/sample.jpg")
        run.log_image("named.jpeg", in_tmp / "pic.jpg")
    assert (in_tmp / "track/images/sample.jpg").read_bytes() == b"\xff\xd8\xff fake jpeg"
    assert (in_tmp / "track/images/named.jpeg").exists()


# -- the PNG encoder, with a stand-in for a numpy array (numpy is optional) --------------------
class FakeArray:
    """The part of numpy's interface log_image uses: shape, rows, astype, tobytes."""

    def __init__(self, rows: list, shape: tuple) -> None:
        self.rows, self.shape = rows, shape

    def __getitem__(self, y: int) -> FakeArray:
        return FakeArray(self.rows[y], self.shape[1:])

    def astype(self, _dtype: str) -> FakeArray:
        return self

    def tobytes(self) -> bytes:
        flat = []
        stack = [self.rows]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack[:0] = item
            else:
                flat.append(item)
        return bytes(flat)


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, raw scanlines) of a PNG, checking signature and CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    assert list(chunks)[-1] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    return width, height, colour, zlib.decompress(chunks[b"IDAT"])


@pytest.mark.parametrize(
    ("shape", "colour", "channels"),
    [((2, 3), 0, 1), ((2, 3, 3), 2, 3), ((2, 3, 4), 6, 4)],
)
def test_an_array_becomes_a_png(in_tmp, shape, colour, channels):
    h, w = shape[:2]
    pixel = lambda y, x, c: (y * 40 + x * 10 + c) % 256  # noqa: E731
    if channels == 1:
        rows = [[pixel(y, x, 0) for x in range(w)] for y in range(h)]
    else:
        rows = [[[pixel(y, x, c) for c in range(channels)] for x in range(w)] for y in range(h)]
    with track.Run() as run:
        path = run.log_image("img", FakeArray(rows, shape))
    assert path == track.Path("track/images/img.png")
    width, height, got_colour, raw = decode_png((in_tmp / path).read_bytes())
    assert (width, height, got_colour) == (w, h, colour)
    stride = 1 + w * channels
    for y in range(h):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0  # filter: none
        assert list(line[1:]) == [pixel(y, x, c) for x in range(w) for c in range(channels)]


def test_a_real_numpy_array(in_tmp):
    np = pytest.importorskip("numpy", reason="numpy is not installed in the venv")
    with track.Run() as run:
        path = run.log_image("n", np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert decode_png((in_tmp / path).read_bytes())[:3] == (4, 3, 0)


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), (1, 1, 1, 1)])
def test_unsupported_shapes_are_refused(in_tmp, shape):
    with track.Run() as run, pytest.raises(ValueError, match=r"\(h, w\), \(h, w, 3\) or \(h, w, 4\)"):
        run.log_image("bad", FakeArray([], shape))
    with track.Run() as run, pytest.raises(ValueError):
        run.log_image("bad", object())
