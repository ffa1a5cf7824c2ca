#!/usr/bin/env python
"""What the event-log triggers add to the hot path: claim and complete 100 tasks.

Runs the worker's own statements (tasks.queue.claim / complete, autocommit,
prepared) on DATABASE_URL with the event triggers disabled, then enabled, in
alternating blocks of rounds (the table vacuumed between rounds), and prints the median milliseconds per 100-task statement
including commit; and a third time with an open event stream registered, when
the triggers also NOTIFY. It creates and deletes its own tasks in queue "bench-events";
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

from datetime import timedelta  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from uuid6 import uuid7  # noqa: E402

from tasks import queue  # noqa: E402
from tasks.db import raw_cursor  # noqa: E402
from tasks.jobs import Outcome  # noqa: E402
from tasks.models import EventStream, Task, Worker  # noqa: E402
from tasks.queue import claims  # noqa: E402

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


MODES = ("without event triggers", "with event triggers", "with triggers + NOTIFY")


BLOCK = 10  # rounds per mode before switching; the first of each block is a warm-up


def trigger_times(worker_id) -> dict[str, float]:
    """PostgreSQL's own timing of each trigger (EXPLAIN ANALYZE), for one claim
    and one completion of 100 tasks: unaffected by client-side scheduling noise."""
    queue.enqueue_many([queue.build("echo", i, queue=QUEUE) for i in range(BATCH)])
    cursor = raw_cursor()
    times: dict[str, float] = {}
    params = {"worker": worker_id, "limit": BATCH, "queues": [QUEUE]}
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + claims.CLAIM_FROM_QUEUES, params)
    _collect("claim", cursor.fetchone()[0][0], times)
    rows = Task.objects.filter(queue=QUEUE, status="processing").values_list("id", "attempt")
    now = time.time()
    outcomes = [Outcome(id, attempt, True, '"ok"', None, now - 0.01, now) for id, attempt in rows]
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + claims.COMPLETE, claims.complete_params(worker_id, outcomes))
    _collect("complete", cursor.fetchone()[0][0], times)
    assert len(outcomes) == BATCH
    return times


def _collect(statement: str, plan: dict, times: dict) -> None:
    times[f"{statement}: execution"] = plan["Execution Time"]
    for trigger in plan.get("Triggers", []):
        if trigger["Relation"] == "tasks_task":
            times[f"{statement}: {trigger['Trigger Name']}"] = trigger["Time"]


def report_trigger_times(worker_id) -> None:
    samples: dict[str, list[float]] = {}
    set_triggers(True)
    for i in range(ROUNDS):
        for name, ms in trigger_times(worker_id).items():
            samples.setdefault(name, []).append(ms)
        Task.objects.filter(queue=QUEUE).delete()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM tasks_task")
    print(f"Server-side times (EXPLAIN ANALYZE), median of {ROUNDS} rounds of {BATCH} tasks, no commit:")
    for name, values in samples.items():
        print(f"  {name:45} {statistics.median(values):6.3f} ms")


def main() -> None:
    worker = Worker.objects.create(id=uuid7(), hostname="bench", pid=os.getpid(), queues=[QUEUE], concurrency=1)
    stream = uuid7()
    results = {mode: ([], []) for mode in MODES}
    try:
        for block in range(ROUNDS // BLOCK * len(MODES)):
            mode = MODES[block % len(MODES)]
            # Switching modes alters the table, which re-plans prepared statements once.
            set_triggers(mode != MODES[0])
            EventStream.objects.filter(pk=stream).delete()
            if mode == MODES[2]:
                EventStream.objects.create(pk=stream, expires_at=timezone.now() + timedelta(hours=1))
            for i in range(BLOCK):
                claim_ms, complete_ms = one_round(worker.id)
                # Keep the table as housekeeping would: no finished rows, dead index entries vacuumed.
                Task.objects.filter(queue=QUEUE).delete()
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM tasks_task")
                if i > 0:
                    results[mode][0].append(claim_ms)
                    results[mode][1].append(complete_ms)
    finally:
        set_triggers(True)
        EventStream.objects.filter(pk=stream).delete()
        Task.objects.filter(queue=QUEUE).delete()
        worker.delete()
    for label in MODES:
        claims, completes = results[label]
        print(f"{label:26} claim {statistics.median(claims):6.2f} ms   complete {statistics.median(completes):6.2f} ms"
              f"   (median of {len(claims)} rounds of {BATCH} tasks)")


if __name__ == "__main__":
    main()
    worker = Worker.objects.create(id=uuid7(), hostname="bench", pid=os.getpid(), queues=[QUEUE], concurrency=1)
    try:
        report_trigger_times(worker.id)
    finally:
        Task.objects.filter(queue=QUEUE).delete()
        worker.delete()
