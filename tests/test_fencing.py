"""Delivery guarantees at the edges: fencing of late outcomes, and claims that
do not block the rows that reference tasks. Real processes, real connections."""

import signal
import time
import uuid

import psycopg
import pytest
from django.utils import timezone

from tasks import queue
from tasks.db import raw_cursor
from tasks.models import Task, TaskStatus, Worker
from tests.factories import TaskFactory
from tests.support.database import database_url_for_tests
from tests.support.processes import wait_for


@pytest.mark.slow
def test_a_presumed_dead_worker_cannot_overwrite_the_attempt_that_replaced_it(start_worker, record_log):
    task = queue.enqueue("record", {"sleep": 1}, max_retries=2)
    frozen = start_worker("--concurrency", "1", "--no-housekeeping")
    wait_for(lambda: record_log(), message="attempt 1 started")
    frozen_id = Task.objects.get(pk=task.pk).worker_id
    # The supervisor stops heartbeating; its slot finishes attempt 1 and waits
    # with the outcome in the pipe, as a worker stuck in a long GC pause would.
    frozen.signal(signal.SIGSTOP)
    try:
        Task.objects.filter(pk=task.pk).update(payload={"sleep": 3})
        rescuer = start_worker("--concurrency", "1")
        wait_for(lambda: len(record_log()) == 2, timeout=30, message="attempt 2 started elsewhere")
    finally:
        frozen.signal(signal.SIGCONT)
    # The frozen worker wakes up and reports attempt 1 as completed...
    wait_for(lambda: f"completed task {task.id}" in frozen.output, timeout=10, message="the late report")
    time.sleep(0.5)  # ...and has flushed it (every 5 ms) by now.
    task.refresh_from_db()
    assert (task.status, task.attempt) == (TaskStatus.PROCESSING, 2)
    assert task.worker_id != frozen_id
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=15)
    task.refresh_from_db()
    attempt_two_pid = next(int(pid) for tid, attempt, pid in record_log() if attempt == "2")
    assert task.result == {"pid": attempt_two_pid}
    assert [(e["attempt"], e["type"]) for e in task.errors] == [(1, "tasks.exceptions.WorkerLost")]
    assert task.errors[0]["worker"] == str(frozen_id)
    assert Worker.objects.get(pk=task.worker_id).pid == rescuer.proc.pid


@pytest.mark.django_db
def test_a_late_failure_report_is_fenced_like_a_late_completion():
    task = TaskFactory(max_retries=3)
    lost, rescuer = uuid.uuid4(), uuid.uuid4()
    stale = queue.claim(raw_cursor(), lost, None, 1)[0]
    now = timezone.now()
    lost_error = {"type": "tasks.exceptions.WorkerLost", "message": "silent", "traceback": ""}
    assert queue.fail(raw_cursor(), [queue.failure(stale, lost_error, now)]) == 1
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.PENDING)
    current = queue.claim(raw_cursor(), rescuer, None, 1)[0]
    assert current.attempt == stale.attempt + 1

    late = {"type": "builtins.RuntimeError", "message": "late", "traceback": ""}
    assert queue.fail(raw_cursor(), [queue.failure(stale, late, now)]) == 0
    task.refresh_from_db()
    assert (task.status, task.worker_id, task.retry_count) == (TaskStatus.PROCESSING, rescuer, 1)
    assert [e["message"] for e in task.errors] == ["silent"]


# The claim's lock as the worker takes it, held open in one transaction.
HOLD_CLAIM_LOCK = "SELECT id FROM tasks_task WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED"
HOLD_FULL_LOCK = "SELECT id FROM tasks_task WHERE id = %s FOR UPDATE"
INSERT_DELIVERY = """
INSERT INTO tasks_webhookdelivery (task_id, event, url, status, attempts, next_attempt_at,
                                   last_error, log, created_at)
VALUES (%s, 'task.completed', 'https://example.com/h', 'pending', 0, now(), '', '[]', now())
"""


def _insert_delivery_while_locked(task_id, lock_sql) -> bool:
    """True when another connection can insert a row referencing the locked task."""
    url = database_url_for_tests()
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as writer:
        assert holder.execute(lock_sql, [task_id]).fetchone() is not None
        writer.execute("SET lock_timeout = '1s'")
        try:
            writer.execute(INSERT_DELIVERY, [task_id])
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            holder.rollback()
        return True


@pytest.mark.django_db(transaction=True)
def test_claimed_tasks_do_not_block_inserts_that_reference_them():
    task = TaskFactory()
    assert _insert_delivery_while_locked(task.id, HOLD_CLAIM_LOCK)
    # The control: a plain FOR UPDATE would block the foreign-key check.
    assert not _insert_delivery_while_locked(task.id, HOLD_FULL_LOCK)


@pytest.mark.django_db(transaction=True)
def test_the_claim_statement_itself_leaves_referencing_inserts_free():
    task = TaskFactory()
    url = database_url_for_tests()
    with psycopg.connect(url) as claimer, psycopg.connect(url, autocommit=True) as writer:
        jobs = queue.claim(claimer.cursor(), uuid.uuid4(), None, 1)  # transaction left open
        assert [job.id for job in jobs] == [task.id]
        writer.execute("SET lock_timeout = '1s'")
        writer.execute(INSERT_DELIVERY, [task.id])
        claimer.rollback()


@pytest.mark.slow
def test_the_slots_of_a_killed_worker_die_with_it(start_worker, record_log):
    """An orphaned slot would keep running an attempt that is about to be run again."""
    import psutil

    queue.enqueue("record", {"sleep": 60})
    worker = start_worker("--concurrency", "1", "--no-housekeeping")
    slot_pid = int(wait_for(lambda: record_log(), message="task started")[0][2])
    assert psutil.pid_exists(slot_pid)
    worker.signal(signal.SIGKILL)
    worker.wait()
    wait_for(lambda: not psutil.pid_exists(slot_pid) or psutil.Process(slot_pid).status() == psutil.STATUS_ZOMBIE,
             timeout=10, message="the orphaned slot to die")
