"""Enqueue through Python: one at a time, and in bulk (the REST API's figures
are in api.py)."""

import time

from scripts.bench.util import say

QUEUE = "bench-enqueue"


def single(n: int) -> float:
    """Tasks per second through `queue.enqueue`, each in its own transaction."""
    from tasks import queue

    started = time.perf_counter()
    for _ in range(n):
        queue.enqueue("echo", None, queue=QUEUE)
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue one at a time (Python): {rate:,.0f} tasks/s")
    return rate


def bulk(n: int) -> float:
    """Tasks per second through `queue.build` + `queue.enqueue_many` (validation included)."""
    from tasks import queue

    started = time.perf_counter()
    queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(n)])
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue_many of {n:,} (Python): {rate:,.0f} tasks/s")
    return rate
