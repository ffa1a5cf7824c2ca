"""Drain: N no-op tasks pre-queued, run to completion by worker processes.

The tasks are enqueued into a paused queue, the workers start and settle
(slots forked, LISTEN in place), then the queue is resumed: the clock runs
from that commit to the last task's completion as recorded in the table. Every
task must end `completed` after exactly one claim (attempt 1), and the
workers' processed counters must add up to N: exactly once.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from scripts.bench.database import reset
from scripts.bench.profile import Recording
from scripts.bench.util import manage, say, stop
from tests.support.processes import wait_for

QUEUE = "bench"
# What a drain runs: "echo", the built-in type closest to a no-op (it returns its
# null payload), or "django.tasks", a no-op @task function (scripts/bench/pytask.py).
KINDS = ("echo", "django.tasks")


@dataclass
class DrainRun:
    processes: int
    concurrency: int
    tasks: int
    seconds: float
    supervisor_rss_mb: float  # peak RSS (VmHWM) of the largest supervisor process
    slot_rss_mb: float  # peak RSS of the largest slot process
    profile: str = ""  # py-spy's summary, for a profiled run

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds


def enqueue_paused(n: int, kind: str = "echo") -> None:
    from scripts.bench.pytask import noop
    from tasks import queue
    from tasks.models import Queue

    Queue.pause(QUEUE)
    for start in range(0, n, 5000):
        size = min(5000, n - start)
        if kind == "echo":
            queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(size)])
        else:
            noop.using(queue_name=QUEUE).enqueue_many([(i,) for i in range(start, start + size)])


def start_workers(processes: int, concurrency: int, env: dict | None = None, queues: str = QUEUE) -> list:
    from tasks.models import Worker

    procs = [manage("worker", "--concurrency", str(concurrency), "--queues", queues, env=env, log=f"drain-{i}")
             for i in range(processes)]
    wait_for(lambda: Worker.objects.filter(state="running").count() == processes, 60, message="workers to register")
    # Settled: each supervisor has its fork server and every slot process.
    wait_for(lambda: all(len(psutil.Process(p.pid).children(recursive=True)) >= concurrency + 1 for p in procs),
             60, message="slot processes")
    time.sleep(1.0)
    return procs


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drain(n: int, processes: int, concurrency: int, env: dict | None = None, profile: bool = False,
          kind: str = "echo", queues: str = QUEUE) -> DrainRun:
    """One measured drain; raises SystemExit if any task did not run exactly once.
    With `profile`, py-spy records the first worker (which slows it down)."""
    from django.db import connection
    from django.db.models import Max, Sum

    from tasks.models import Queue, Task, Worker

    reset()
    enqueue_paused(n, kind)
    procs = start_workers(processes, concurrency, env, queues)
    recording = Recording(procs[0].pid, "drain-profile") if profile else None
    Queue.resume(QUEUE)
    started = time.time()
    try:
        wait_for(lambda: Task.objects.filter(status="completed").count() == n, 600, 0.1, message="the drain")
        supervisor = max(peak_rss_mb(p.pid) for p in procs)
        slots = max(peak_rss_mb(c.pid) for p in procs for c in psutil.Process(p.pid).children(recursive=True))
    finally:
        codes = [stop(p) for p in procs]
    finished = Task.objects.aggregate(last=Max("completed_at"))["last"].timestamp()
    once = Task.objects.filter(status="completed", attempt=1, retry_count=0).count()
    processed = Worker.objects.aggregate(total=Sum("processed"))["total"]
    if once != n or processed != n or codes != [0] * processes:
        raise SystemExit(f"bench: drain not exactly once: {once}/{n} completed at attempt 1, "
                         f"workers processed {processed}, exit codes {codes}")
    connection.close()
    run = DrainRun(processes, concurrency, n, finished - started, supervisor, slots,
                   recording.summary() if recording else "")
    say(f"  {'profiled ' if profile else ''}drain {n} {kind} with {processes} process(es) x {concurrency} slots: {run.rate:,.0f} tasks/s "
        f"({run.seconds:.2f} s), RSS supervisor {supervisor:.0f} MB, slot {slots:.0f} MB")
    return run
