"""The queue's state changes, against real PostgreSQL, one process."""

import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.models import Queue, Task, TaskStatus
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


class CountingCursor(psycopg.Cursor):
    """Counts statements, to keep the hot path at one statement per batch."""

    statements = 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return super().execute(*args, **kwargs)


def counting_cursor() -> CountingCursor:
    return CountingCursor(raw_cursor().connection)


def outcome(job, ok=True, result="null"):
    now = time.time()
    return Outcome(job.id, job.attempt, ok, result, None, now, now)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"type": "no-such-type"}, "type"),
        ({"type": "echo", "priority": 101}, "priority"),
        ({"type": "echo", "priority": "high"}, "priority"),
        ({"type": "echo", "max_retries": -1}, "max_retries"),
        ({"type": "echo", "timeout": 0}, "timeout"),
        ({"type": "echo", "queue": "has spaces"}, "queue"),
        ({"type": "echo", "webhook": "ftp://example.com/x"}, "webhook"),
        ({"type": "echo", "payload": {"x": float("nan")}}, "payload"),
        ({"type": "echo", "payload": {1, 2}}, "payload"),
        ({"type": "email", "payload": "not-an-address"}, "payload"),
        ({"type": "sleep", "payload": "ten"}, "payload"),
        ({"type": "echo", "run_at": timezone.now().replace(tzinfo=None)}, "scheduled_for"),
    ],
)
def test_enqueue_rejects_bad_input_and_writes_nothing(options, field):
    options = dict(options)
    with pytest.raises(ValidationError) as raised:
        queue.enqueue(options.pop("type"), options.pop("payload", None), **options)
    assert field in raised.value.message_dict
    assert Task.objects.count() == 0


def test_enqueue_now_is_pending_and_later_is_scheduled():
    now = timezone.now()
    soon = queue.enqueue("echo", {"a": 1}, now=now)
    later = queue.enqueue("echo", None, run_at=now + timedelta(minutes=5), now=now)
    assert soon.status == TaskStatus.PENDING
    assert later.status == TaskStatus.SCHEDULED
    assert Task.objects.get(pk=soon.pk).payload == {"a": 1}


def test_claim_takes_highest_priority_then_oldest_run_at_in_one_statement():
    now = timezone.now()
    low = TaskFactory(priority=1, run_at=now - timedelta(minutes=5))
    high_new = TaskFactory(priority=5, run_at=now)
    high_old = TaskFactory(priority=5, run_at=now - timedelta(minutes=1))
    mid = TaskFactory(priority=3, run_at=now)
    TaskFactory(status=TaskStatus.SCHEDULED, priority=100, run_at=now + timedelta(hours=1))
    cursor = counting_cursor()

    jobs = queue.claim(cursor, uuid.uuid4(), None, 3)

    assert [job.id for job in jobs] == [high_old.id, high_new.id, mid.id]
    assert cursor.statements == 1
    assert queue.claim(cursor, uuid.uuid4(), None, 10)[0].id == low.id
    assert Task.objects.filter(status=TaskStatus.PROCESSING).count() == 4


def test_claim_serves_only_named_queues_and_skips_paused_ones():
    TaskFactory(queue="emails")
    TaskFactory(queue="reports")
    TaskFactory(queue="default")
    Queue.objects.create(name="reports", paused=True)
    worker = uuid.uuid4()

    jobs = queue.claim(raw_cursor(), worker, ["emails", "reports"], 10)
    assert [job.queue for job in jobs] == ["emails"]
    assert [job.queue for job in queue.claim(raw_cursor(), worker, None, 10)] == ["default"]


def test_completion_is_batched_and_fenced_by_worker_and_attempt():
    TaskFactory.create_batch(3)
    worker, intruder = uuid.uuid4(), uuid.uuid4()
    jobs = queue.claim(raw_cursor(), worker, None, 3)
    cursor = counting_cursor()

    assert queue.complete(cursor, intruder, [outcome(jobs[0])]) == 0
    stale = Outcome(jobs[1].id, jobs[1].attempt - 1, True, "1", None, time.time(), time.time())
    assert queue.complete(cursor, worker, [stale]) == 0
    assert queue.complete(cursor, worker, [outcome(job, result='{"ok": true}') for job in jobs]) == 3
    assert cursor.statements == 3
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.COMPLETED}
    assert Task.objects.get(pk=jobs[0].id).result == {"ok": True}
    # A second report of the same attempt changes nothing.
    assert queue.complete(cursor, worker, [outcome(jobs[0], result='"again"')]) == 0


def test_failure_backs_off_then_becomes_a_dead_letter_keeping_every_error():
    task = TaskFactory(max_retries=2)
    worker = uuid.uuid4()
    for attempt in (1, 2, 3):
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.PENDING)
        job = queue.claim(raw_cursor(), worker, None, 1)[0]
        assert job.attempt == attempt
        now = timezone.now()
        error = {"type": "builtins.RuntimeError", "message": f"boom {attempt}", "traceback": "Traceback..."}
        assert queue.fail(raw_cursor(), [queue.failure(job, error, now)]) == 1
        task.refresh_from_db()
        if attempt < 3:
            assert task.status == TaskStatus.SCHEDULED
            assert task.retry_count == attempt
            assert now + timedelta(seconds=0.5) <= task.run_at <= now + timedelta(seconds=attempt * 2 + 1)
    assert task.status == TaskStatus.FAILED
    assert task.retry_count == 2
    assert task.last_error == "RuntimeError: boom 3"
    assert [e["message"] for e in task.errors] == ["boom 1", "boom 2", "boom 3"]
    assert all(e["traceback"] and e["worker"] == str(worker) for e in task.errors)
    assert task.completed_at is not None


def test_cancel_only_before_the_task_runs():
    pending = TaskFactory()
    scheduled = TaskFactory(status=TaskStatus.SCHEDULED, run_at=timezone.now() + timedelta(hours=1))
    running = TaskFactory(status=TaskStatus.PROCESSING)
    assert queue.cancel(pending) and queue.cancel(scheduled)
    assert not queue.cancel(running)
    assert Task.objects.get(pk=running.pk).status == TaskStatus.PROCESSING
    assert Task.objects.filter(status=TaskStatus.CANCELLED).count() == 2


def test_manual_retry_returns_failed_and_cancelled_tasks_to_pending_with_fresh_retries():
    errors = [{"attempt": 1, "message": "boom"}]
    failed = TaskFactory(status=TaskStatus.FAILED, retry_count=3, max_retries=3, errors=errors,
                         completed_at=timezone.now())
    cancelled = TaskFactory(status=TaskStatus.CANCELLED)
    completed = TaskFactory(status=TaskStatus.COMPLETED)
    assert queue.retry(failed) and queue.retry(cancelled)
    assert not queue.retry(completed)
    failed.refresh_from_db()
    assert (failed.status, failed.retry_count, failed.completed_at) == (TaskStatus.PENDING, 0, None)
    assert failed.errors == errors


def test_hand_back_undoes_an_unstarted_claim():
    task = TaskFactory()
    worker = uuid.uuid4()
    jobs = queue.claim(raw_cursor(), worker, None, 1)
    assert queue.hand_back(raw_cursor(), worker, jobs) == 1
    task.refresh_from_db()
    assert (task.status, task.attempt, task.started_at) == (TaskStatus.PENDING, 0, None)


def test_enqueue_inside_a_rolled_back_transaction_leaves_nothing():
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue("echo", 1)
        raise RuntimeError("roll back")
    assert Task.objects.count() == 0


def test_purge_cancels_the_waiting_tasks_of_one_queue():
    waiting = [TaskFactory(queue="bulk"), TaskFactory(queue="bulk", status=TaskStatus.SCHEDULED)]
    running = TaskFactory(queue="bulk", status=TaskStatus.PROCESSING)
    other = TaskFactory(queue="default")
    assert queue.purge("bulk") == 2
    assert set(Task.objects.filter(status=TaskStatus.CANCELLED).values_list("pk", flat=True)) == {
        t.pk for t in waiting
    }
    assert Task.objects.get(pk=running.pk).status == TaskStatus.PROCESSING
    assert Task.objects.get(pk=other.pk).status == TaskStatus.PENDING
