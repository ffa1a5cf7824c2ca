"""Short tasks travel to slots in batches; a crash or a shutdown in the middle of
a batch loses nothing and runs nothing twice."""

import collections
import json
import re
import signal
import time
import uuid
from multiprocessing.connection import wait

import pytest

from tasks import queue
from tasks.jobs import Job
from tasks.models import Task, TaskStatus
from tasks.worker.slot import Slot
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow


def most_jobs_held_by_one_slot(log: str) -> int:
    """From INFO logs: the most jobs a slot had been sent and not yet finished."""
    held, most = collections.Counter(), 0
    for slot, event in re.findall(r"Worker (\d+) (processing|completed|task \S+ failed)", log):
        held[slot] += 1 if event == "processing" else -1
        most = max(most, held[slot])
    return most


def test_a_crash_inside_a_batch_fails_that_task_alone(start_worker, record_log):
    crashes = {100, 180, 260}
    tasks = queue.enqueue_many([
        queue.build("tally", "crash" if i in crashes else i, max_retries=0) for i in range(300)
    ])
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.filter(status__in=["completed", "failed"]).count() == 300, timeout=60)
    runs = collections.Counter(line[0] for line in record_log())
    for i, task in enumerate(tasks):
        task.refresh_from_db()
        assert runs[str(task.id)] == 1 and task.attempt == 1
        if i in crashes:
            assert task.status == TaskStatus.FAILED
            assert [e["type"] for e in task.errors] == ["tasks.exceptions.SlotCrashed"]
        else:
            assert (task.status, task.errors) == (TaskStatus.COMPLETED, [])
    assert most_jobs_held_by_one_slot(worker.output) >= 2  # batches were really sent


def test_sigterm_in_the_middle_of_batches_hands_back_what_did_not_start(start_worker, record_log):
    queue.enqueue_many([queue.build("record", i) for i in range(5000)])
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: len(record_log()) >= 300, timeout=60, message="300 tasks run")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    runs = collections.Counter(line[0] for line in record_log())
    assert set(runs.values()) == {1}
    rows = Task.objects.values_list("id", "status", "attempt")
    assert {status for _, status, _ in rows} == {TaskStatus.COMPLETED, TaskStatus.PENDING}
    for pk, status, attempt in rows:
        if status == TaskStatus.COMPLETED:
            assert runs[str(pk)] == 1 and attempt == 1
        else:
            assert str(pk) not in runs and attempt == 0
    assert most_jobs_held_by_one_slot(worker.output) >= 2


def job(type: str, payload) -> Job:
    return Job(uuid.uuid4(), type, json.dumps(payload), "default", 0, 1, 0, 3, 10.0, uuid.uuid4())


def test_a_slot_gives_back_the_jobs_it_has_not_started():
    slot = Slot(1)
    try:
        slot.send([job("echo", "ready?")], grace=1)
        assert wait([slot.conn], 30) and len(slot.receive()[0]) == 1  # the child is up
        running, queued = job("sleep", 1.5), [job("echo", i) for i in range(3)]
        slot.send([running], grace=1)
        time.sleep(0.5)  # `running` has started
        slot.send(queued, grace=1)
        slot.drop_queued()  # the shutdown's request, while `running` runs
        finished, dropped = [], []
        while slot.busy:
            assert wait([slot.conn], 5)
            done, gave_back, died = slot.receive()
            assert not died
            finished += done
            dropped += gave_back
        # Every job either ran or came back unstarted, once; those queued behind
        # the running one came back (`running` too, if the child had not begun it).
        assert [j for j, _ in finished] + dropped == [running, *queued]
        assert all(outcome.ok for _, outcome in finished)
        assert dropped[-len(queued):] == queued
    finally:
        slot.stop()
