"""Workers SIGKILLed while a DAG and a batch run: nothing is lost, no node runs
before its dependencies completed, and each batch callback is enqueued once."""

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tasks.models import Batch, Event, Task
from tasks.queue.batches import Batch as BatchBuilder
from tasks.queue.workflows import Workflow, call
from tests.support.processes import wait_for

# Sizes: small by default (two cores shared); the 1,000 nodes and 10,000
# tasks with WORKFLOW_CRASH_NODES=1000 WORKFLOW_CRASH_BATCH=10000.
NODES = int(os.environ.get("WORKFLOW_CRASH_NODES", "200"))
BATCH = int(os.environ.get("WORKFLOW_CRASH_BATCH", "1000"))
LAYER = 20
KILLS = 4


def step(sleep=0.0):
    return call("flowstep", {"sleep": sleep}, options={"max_retries": 10})


@pytest.mark.slow
def test_sigkilled_workers_lose_nothing_and_release_nothing_early(start_worker, record_log, queue_env):
    rng = random.Random(17)
    workflow = Workflow("crash")
    layers = [[workflow.add(step(0.05)) for _ in range(LAYER)]]
    while sum(map(len, layers)) < NODES:
        previous = layers[-1]
        layers.append([workflow.add(step(0.05), deps=rng.sample(previous, 3)) for _ in range(LAYER)])
    workflow.enqueue()
    batch = BatchBuilder("crash", on_success=step(), on_failure=step(), on_complete=step())
    for start in range(0, BATCH, 500):
        batch.add(*[step(0.01) for _ in range(min(500, BATCH - start))])
    batch.close()

    args = ("--concurrency", "4", "--no-housekeeping")
    housekeeper = start_worker("--concurrency", "1")  # rescues the tasks of the killed ones
    workers = [start_worker(*args) for _ in range(2)]
    for _ in range(KILLS):
        # Kill only once the victim is busy (it takes a second to start).
        seen = len(record_log())
        wait_for(lambda: len(record_log()) >= seen + 30, timeout=60, message="tasks to run")
        time.sleep(0.3)
        victim = workers.pop(0)
        victim.signal(signal.SIGKILL)
        victim.wait()
        workers.append(start_worker(*args))

    ours = Task.objects.filter(workflow_id=workflow.row.id) | Task.objects.filter(batch_id=batch.id)
    wait_for(lambda: not ours.filter(status__in=["waiting", "scheduled", "pending", "processing"]).exists(),
             timeout=150, message="every node and batch task to finish")
    row = Batch.objects.get(pk=batch.id)
    callbacks = [row.on_success, row.on_failure, row.on_complete]
    wait_for(lambda: Task.objects.get(pk=row.on_complete).status == "completed", timeout=60,
             message="the callbacks to run")
    assert housekeeper.proc.poll() is None

    assert set(ours.values_list("status", flat=True)) == {"completed"}, "a task was lost or failed"
    assert (row.total, row.completed, row.failed, row.cancelled) == (BATCH, BATCH, 0, 0)
    assert [Task.objects.get(pk=t).status for t in callbacks] == ["completed", "cancelled", "completed"]
    assert Event.objects.filter(event="batch.finished").count() == 1
    lines = record_log()
    early = Path(queue_env["TASKQUEUE_TEST_LOG"] + ".early")
    assert not early.exists(), f"a node ran before its dependencies completed: {early.read_text()[:300]}"
    # The kills did hit running tasks: their attempts were rescued as "worker lost".
    assert ours.filter(errors__contains=[{"type": "tasks.exceptions.WorkerLost"}]).exists() or \
        ours.filter(attempt__gt=1).exists()
    ran = {line[0] for line in lines}
    assert {str(t.id) for t in ours} <= ran
    assert str(row.on_failure) not in ran
