"""How the driver reads a task's stream: log chunks into the log, the result at the end, and
each way a task can end without one (cancelled, its code raised, its worker or node lost)."""

from __future__ import annotations

import io

import pytest

ray = pytest.importorskip("ray", reason="the driver's error mapping uses Ray's exception classes")
from ray import exceptions as rx  # noqa: E402

from cairn.cluster import driver  # noqa: E402
from cairn.experiments.queue import Entry  # noqa: E402


class FakeStream:
    """A task's stream: items (or an exception raised at ray.get), then its end."""

    def __init__(self, *items) -> None:
        self.items = list(items)

    def is_finished(self) -> bool:
        return not self.items

    def next_ready(self) -> bool:
        return bool(self.items)

    def __next__(self):
        if not self.items:
            raise StopIteration
        return self.items.pop(0)


class FakeRay:
    exceptions = rx

    @staticmethod
    def get(item):
        if isinstance(item, BaseException):
            raise item
        return item


def _task(*items) -> driver._Task:
    entry = Entry(1, "e", "abc", [], [], "running", 1, 0.0, None, None, None, None, None)
    return driver._Task(entry, FakeStream(*items), io.BytesIO())


def test_log_then_result():
    t = _task({"log": "line 1\n"}, {"log": "line 2\n"}, {"result": {"status": "success"}})
    driver._drain(FakeRay, t)
    assert t.done and t.status is None and t.result == {"status": "success"}
    assert t.log.getvalue() == b"line 1\nline 2\n"


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (rx.TaskCancelledError(), "killed", "killed with `cairn queue kill`"),
        (rx.WorkerCrashedError(), "failed", "node lost: WorkerCrashedError: The worker died unexpectedly"),
        (rx.NodeDiedError("node 1f0a died"), "failed", "node lost: NodeDiedError: node 1f0a died"),
    ],
)
def test_ends_without_a_result(error, status, message):
    t = _task({"log": "started\n"}, error)
    driver._drain(FakeRay, t)
    assert t.done and t.status == status
    assert t.error.startswith(message), t.error
    assert t.log.getvalue() == b"started\n"


def test_a_stream_that_ends_without_a_result_is_a_lost_node():
    t = _task({"log": "started\n"})
    driver._drain(FakeRay, t)
    assert (t.done, t.status, t.error) == (True, "failed", "node lost: the task ended without a result")


def test_not_ready_yet_waits():
    t = _task({"log": "x"})
    t.gen.next_ready = lambda: False
    t.gen.is_finished = lambda: False
    driver._drain(FakeRay, t)
    assert not t.done and t.log.getvalue() == b""
