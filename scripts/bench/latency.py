"""Pickup latency: an idle worker, tasks enqueued one at a time every 20 ms.

Measured from the enqueue's commit (taken in this process, right after the
commit returns) to the start of the handler (`started_at`, stamped in the slot
process just before the handler is called). Same host, same clock. The tasks
are `echo` (tasks.queue.enqueue) or a no-op django.tasks function (`.enqueue()`).
"""

import time
from dataclasses import dataclass
from uuid import UUID

from scripts.bench.database import reset
from scripts.bench.drain import start_workers
from scripts.bench.util import percentile, say, stop
from tests.support.processes import wait_for

QUEUE = "bench"


@dataclass
class LatencyRun:
    p50_ms: float
    p99_ms: float
    max_ms: float


def pickup(n: int, concurrency: int, interval: float = 0.02, env: dict | None = None,
           kind: str = "echo") -> LatencyRun:
    from scripts.bench.pytask import noop
    from tasks import queue
    from tasks.models import Task

    reset()
    procs = start_workers(1, concurrency, env)
    committed = {}
    function = noop.using(queue_name=QUEUE)
    try:
        # Warm up: a slot's first django.tasks function imports its module (once per
        # process); these tasks are not measured.
        warm = [function.enqueue(-1) for _ in range(concurrency * 2)] if kind != "echo" else []
        wait_for(lambda: Task.objects.filter(status="completed").count() == len(warm), 60, message="the warm-up")
        next_at = time.perf_counter()
        for i in range(n):
            # Autocommit: committed on return.
            pk = queue.enqueue("echo", None, queue=QUEUE).pk if kind == "echo" else UUID(function.enqueue(i).id)
            committed[pk] = time.time()
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        wait_for(lambda: Task.objects.filter(status="completed").count() == n + len(warm), 60,
                 message="the last pickup")
    finally:
        stop(procs[0])
    delays = [(started.timestamp() - committed[pk]) * 1000
              for pk, started in Task.objects.filter(pk__in=committed).values_list("pk", "started_at")]
    run = LatencyRun(percentile(delays, 50), percentile(delays, 99), max(delays))
    say(f"  pickup latency over {n} {kind} tasks: p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
        f"max {run.max_ms:.1f} ms")
    return run
