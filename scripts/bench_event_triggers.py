#!/usr/bin/env python
"""What the event-log triggers add to the hot path: claim and complete 100 tasks.

Runs the worker's own statements (tasks.queue.claim / complete, autocommit,
prepared) on DATABASE_URL with the event triggers enabled, then disabled, in
alternating rounds, and prints the median milliseconds per 100-task statement
including commit. It creates and deletes its own tasks in queue "bench-events";
run it on a scratch database:

    DATABASE_URL=postgresql://127.0.0.1:5432/mydb .venv/bin/python scripts/bench_event_triggers.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from uuid6 import uuid7  # noqa: E402

from tasks import queue  # noqa: E402
from tasks.db import raw_cursor  # noqa: E402
from tasks.execution import Outcome  # noqa: E402
from tasks.models import Task, Worker  # noqa: E402

QUEUE = "bench-events"
BATCH = 100
ROUNDS = int(os.environ.get("ROUNDS", "40"))
TRIGGERS = ("tasks_task_log_insert", "tasks_task_log_update")


def set_triggers(enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"ALTER TABLE tasks_task {verb} TRIGGER {name}")


def one_round(worker_id) -> tuple[float, float]:
    queue.enqueue_many([queue.build("echo", i, queue=QUEUE) for i in range(BATCH)])
    cursor = raw_cursor()
    started = time.perf_counter()
    jobs = queue.claim(cursor, worker_id, [QUEUE], BATCH)
    claimed = time.perf_counter()
    now = time.time()
    outcomes = [Outcome(j.id, j.attempt, True, '"ok"', None, now - 0.01, now) for j in jobs]
    before = time.perf_counter()
    queue.complete(cursor, worker_id, outcomes)
    done = time.perf_counter()
    assert len(jobs) == BATCH
    return (claimed - started) * 1000, (done - before) * 1000


def main() -> None:
    worker = Worker.objects.create(id=uuid7(), hostname="bench", pid=os.getpid(), queues=[QUEUE], concurrency=1)
    results = {True: ([], []), False: ([], [])}
    try:
        for i in range(ROUNDS * 2):
            enabled = i % 2 == 0
            set_triggers(enabled)
            claim_ms, complete_ms = one_round(worker.id)
            if i >= 4:  # warm-up: prepared statements, caches
                results[enabled][0].append(claim_ms)
                results[enabled][1].append(complete_ms)
    finally:
        set_triggers(True)
        Task.objects.filter(queue=QUEUE).delete()
        worker.delete()
    for enabled, label in ((False, "without event triggers"), (True, "with event triggers")):
        claims, completes = results[enabled]
        print(f"{label:24} claim {statistics.median(claims):6.2f} ms   complete {statistics.median(completes):6.2f} ms"
              f"   (median of {len(claims)} rounds of {BATCH} tasks)")


if __name__ == "__main__":
    main()
