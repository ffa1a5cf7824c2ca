"""Enqueue through Python: one at a time, and in bulk, for the built-in `echo`
(tasks.queue) and a no-op django.tasks function (scripts/bench/pytask.py), side
by side (the REST API's figures are in api.py)."""

import time

from scripts.bench.util import say

QUEUE = "bench-enqueue"


def single(n: int, kind: str = "echo") -> float:
    """Tasks per second, each in its own transaction: `queue.enqueue` of echo, or
    `.enqueue()` of a no-op django.tasks function."""
    from scripts.bench.pytask import noop
    from tasks import queue

    task = noop.using(queue_name=QUEUE)
    started = time.perf_counter()
    for i in range(n):
        if kind == "echo":
            queue.enqueue("echo", None, queue=QUEUE)
        else:
            task.enqueue(i)
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue one at a time, {kind}: {rate:,.0f} tasks/s")
    return rate


def bulk(n: int, chunk: int, kind: str = "echo") -> float:
    """Tasks per second, `chunk` per call and transaction: `queue.build` + `queue.enqueue_many`
    of echo (validation included), or `.enqueue_many()` of a no-op django.tasks function."""
    from scripts.bench.pytask import noop
    from tasks import queue

    task = noop.using(queue_name=QUEUE)
    started = time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        if kind == "echo":
            queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(size)])
        else:
            task.enqueue_many([(i,) for i in range(start, start + size)])
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue_many, {chunk:,} per call, {kind}: {rate:,.0f} tasks/s")
    return rate
