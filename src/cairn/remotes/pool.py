"""Running transfers concurrently, with bounded memory."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager


def run_pool(jobs: int, tasks: list, fn, on_done) -> None:
    """Run fn(task) on a pool, at most `jobs` in flight (bounded memory); on_done(result) in
    this thread. On an error or Ctrl-C, queued tasks are dropped, running ones finish."""
    if not tasks:
        return
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="cairn-transfer")
    pending: set[Future] = set()
    it = iter(tasks)
    try:
        for task in it:
            pending.add(pool.submit(fn, task))
            if len(pending) >= jobs:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    on_done(f.result())
        for f in pending:
            on_done(f.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Transfers allocate many small long-lived objects (index rows, tree entries) and no
    cycles: the cyclic GC would only scan them again and again (~5% of a pull, measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
