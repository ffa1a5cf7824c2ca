"""Flow control: what a limit costs the queues without one, and what a limited
queue delivers.

- A/B: the same drain of no-op tasks with no limits anywhere, then with a
  limited queue in the database that the workers do not serve (their claim
  stays the plain statement), then with the workers also serving that limited
  queue (each claim then also runs the limited queue's transaction).
- Concurrency: sleep tasks of SLEEP seconds in a queue with max_running=N,
  run by more slots than N: the rate should be N / SLEEP.
- Rate: rate_limit=R per period for `seconds` (a minute by default), with more
  tasks than that: started tasks per second against R / period.
"""

import time

from scripts.bench.database import reset
from scripts.bench.drain import QUEUE, drain, start_workers
from scripts.bench.util import say, stop
from tests.support.processes import wait_for

SLEEP = 0.05
OTHER = "bench-limited"


def ab(n: int, processes: int, concurrency: int) -> dict:
    """Drain rates (tasks/s): no limits; a limited queue not served; a limited queue also served."""
    from tasks.models import Queue

    plain = drain(n, processes, concurrency)
    Queue.objects.update_or_create(name=OTHER, defaults={"max_running": 2})
    unserved = drain(n, processes, concurrency)
    served = drain(n, processes, concurrency, queues=f"{QUEUE},{OTHER}")
    Queue.objects.filter(name=OTHER).delete()
    return {"plain": plain.rate, "limit_elsewhere": unserved.rate, "limit_served_too": served.rate}


def limited(n: int, limit: int, processes: int, concurrency: int) -> dict:
    """A drain of sleep tasks under max_running=limit: measured against limit / SLEEP."""
    from tasks import queue
    from tasks.models import Queue, Task

    reset()
    Queue.objects.update_or_create(name=QUEUE, defaults={"paused": True, "max_running": limit})
    queue.enqueue_many([queue.build("sleep", SLEEP, queue=QUEUE) for _ in range(n)])
    procs = start_workers(processes, concurrency)
    Queue.resume(QUEUE)
    started = time.time()
    try:
        wait_for(lambda: Task.objects.filter(status="completed").count() == n, 600, 0.1, message="the limited drain")
    finally:
        for proc in procs:
            stop(proc)
    seconds = time.time() - started
    bound = limit / SLEEP
    # From the first start to the last completion (the workers' wake-up left out), and
    # the median time from a task's end to the next start: the cost of a round.
    times = sorted((s.timestamp(), c.timestamp()) for s, c in Task.objects.values_list("started_at", "completed_at"))
    span = max(c for _, c in times) - times[0][0]
    events = sorted([(s, 1) for s, _ in times] + [(c, 0) for _, c in times])
    gaps, freed = [], None
    for at, is_start in events:
        if not is_start:
            freed = at
        elif freed is not None:
            gaps, freed = [*gaps, at - freed], None
    gap_ms = 1000 * sorted(gaps)[len(gaps) // 2] if gaps else 0.0
    say(f"  limited drain: {n} sleep({SLEEP}) tasks, max_running {limit}, {processes} x {concurrency} slots: "
        f"{n / seconds:,.1f} tasks/s from the resume, {n / span:,.1f} from the first start (bound {bound:,.0f}); "
        f"end to next start {gap_ms:.1f} ms (median)")
    return {"tasks": n, "limit": limit, "slots": processes * concurrency, "rate": n / seconds,
            "steady_rate": n / span, "gap_ms": gap_ms, "bound": bound}


def rate(limit: int, period: float, seconds: float, processes: int, concurrency: int) -> dict:
    """Starts per second under rate_limit=limit per period, over `seconds`."""
    from tasks import queue
    from tasks.models import Queue, Task

    reset()
    n = int(limit * seconds / period * 1.5) + limit
    Queue.objects.update_or_create(name=QUEUE, defaults={"paused": True, "rate_limit": limit, "rate_period": period,
                                                          "rate_log": None})
    queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(n)])
    procs = start_workers(processes, concurrency)
    Queue.resume(QUEUE)
    # The window is `seconds` from the first start, so the workers must run all of it:
    # counted from the resume, their start-up (seconds on a busy machine) read as a lower rate.
    wait_for(lambda: Task.objects.filter(queue=QUEUE, started_at__isnull=False).exists(), timeout=120,
             message="the first start under the rate limit")
    time.sleep(seconds + 0.5)
    for proc in procs:
        stop(proc)
    starts = sorted(Task.objects.filter(queue=QUEUE, started_at__isnull=False).values_list("started_at", flat=True))
    first = starts[0]
    inside = [t for t in starts if (t - first).total_seconds() < seconds]
    observed = len(inside) / seconds
    expected = limit / period
    say(f"  rate limit {limit} per {period:g} s over {seconds:g} s: {observed:,.2f} starts/s "
        f"(limit {expected:,.2f}/s, {100 * (observed / expected - 1):+.1f}%)")
    return {"limit": limit, "period": period, "seconds": seconds, "observed": observed, "expected": expected}



def clear_limits() -> None:
    """Leave the bench queue without limits for the sections that follow."""
    from tasks.models import Queue

    Queue.objects.filter(name=QUEUE).update(max_running=None, rate_limit=None, rate_period=None, rate_log=None)
