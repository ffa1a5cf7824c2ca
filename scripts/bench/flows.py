"""Workflows and batches: a wide fan-out (N tasks, then one fan-in), a 1,000-long
chain and a batch of N tasks with a callback, each drained by worker processes,
beside a plain drain of N tasks in the same run.

Nodes are enqueued into a paused queue, the workers start and settle, and the
clock runs from the resume to the completion of the last node (the fan-in,
the chain's end, the batch's callback) as recorded in the table. Every task
must end `completed` after one claim: exactly once, and none early.
"""

import time
from dataclasses import dataclass

from scripts.bench.database import reset
from scripts.bench.drain import QUEUE, enqueue_paused, start_workers
from scripts.bench.util import say, stop
from tests.support.processes import wait_for


@dataclass
class FlowRun:
    shape: str
    tasks: int
    seconds: float
    enqueue_seconds: float

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds


def _reset() -> None:
    from django.db import connection

    reset()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tasks_workflow, tasks_batch, tasks_event")


def _build(shape: str, n: int):
    """Enqueue the shape into the paused bench queue; returns (task count, the id of the last task)."""
    from tasks.models import Queue
    from tasks.queue.batches import enqueue_batch
    from tasks.queue.workflows import Workflow, call

    Queue.pause(QUEUE)
    step = call("echo", None, options={"queue": QUEUE})
    if shape == "plain":
        enqueue_paused(n)
        return n, None
    if shape == "batch":
        row = enqueue_batch([step] * n, on_complete=step)
        return n + 1, row.on_complete
    workflow = Workflow(shape)
    if shape == "fan-in":
        nodes = workflow.group([step] * n, step)
    else:  # chain
        nodes = workflow.chain(*[step] * n)
    workflow.enqueue()
    return len(nodes), nodes[-1].id


def run(shape: str, n: int, processes: int, concurrency: int) -> FlowRun:
    from django.db import connection
    from django.db.models import Max

    from tasks.models import Queue, Task

    _reset()
    began = time.perf_counter()
    total, last = _build(shape, n)
    enqueue_seconds = time.perf_counter() - began
    procs = start_workers(processes, concurrency)
    Queue.resume(QUEUE)
    started = time.time()
    try:
        wait_for(lambda: Task.objects.filter(status="completed").count() == total, 600, 0.1,
                 message=f"the {shape} drain")
    finally:
        codes = [stop(p) for p in procs]
    finished = Task.objects.aggregate(last=Max("completed_at"))["last"].timestamp()
    once = Task.objects.filter(status="completed", attempt=1).count()
    if once != total or codes != [0] * processes:
        raise SystemExit(f"bench: {shape} drain not exactly once: {once}/{total} completed at attempt 1, "
                         f"exit codes {codes}")
    if last is not None:
        end = Task.objects.get(pk=last)
        early = Task.objects.filter(completed_at__gt=end.started_at).exclude(pk=last).count()
        if early:
            raise SystemExit(f"bench: the last node of the {shape} started before {early} task(s) it waits for ended")
    connection.close()
    result = FlowRun(shape, total, finished - started, enqueue_seconds)
    say(f"  {shape} {total} tasks, {processes} process(es) x {concurrency} slots: {result.rate:,.0f} tasks/s "
        f"({result.seconds:.2f} s; enqueued in {enqueue_seconds:.2f} s)")
    return result
