"""Housekeeping chores, called directly with a pinned clock."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Failure, Outcome
from tasks.maintenance import fold_stats, promote, prune, rescue
from tasks.models import StatDelta, Task, TaskStatus, Worker
from tasks.telemetry import counters, summary
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def test_promote_moves_only_due_scheduled_tasks_to_pending():
    now = timezone.now()
    due = TaskFactory(status=TaskStatus.SCHEDULED, run_at=now - timedelta(seconds=1))
    later = TaskFactory(status=TaskStatus.SCHEDULED, run_at=now + timedelta(seconds=30))
    assert promote.run_once(now) == 1
    assert Task.objects.get(pk=due.pk).status == TaskStatus.PENDING
    assert Task.objects.get(pk=later.pk).status == TaskStatus.SCHEDULED
    assert promote.run_once(now + timedelta(minutes=1)) == 1


def server_start():
    with raw_cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def settled_server_time():
    """Now, or later if the server started less than a rescue threshold ago
    (the embedded server starts with the test run): rescue waits that long."""
    threshold = timedelta(seconds=settings.TASK_QUEUE["WORKER_TIMEOUT"])
    return max(timezone.now(), server_start() + threshold + timedelta(seconds=1))


def test_rescue_fails_the_attempts_of_workers_that_stopped_heartbeating():
    now = settled_server_time()
    dead = WorkerFactory(last_heartbeat=now - timedelta(minutes=5))
    alive = WorkerFactory(last_heartbeat=now)
    orphan = TaskFactory(max_retries=1)
    kept = TaskFactory()
    queue.claim(raw_cursor(), dead.id, None, 1)
    queue.claim(raw_cursor(), alive.id, None, 1)

    assert rescue.run_once(now) == 1

    orphan.refresh_from_db()
    assert orphan.status == TaskStatus.SCHEDULED
    assert orphan.retry_count == 1
    assert orphan.errors[0]["type"] == "tasks.exceptions.WorkerLost"
    assert orphan.errors[0]["worker"] == str(dead.id)
    assert Task.objects.get(pk=kept.pk).status == TaskStatus.PROCESSING
    # The dead worker's late report of that attempt is refused: it no longer holds it.
    late = Outcome(orphan.id, 1, True, "1", None, 0, 0)
    assert queue.complete(raw_cursor(), dead.id, [late]) == 0


def test_rescue_of_a_task_without_retries_left_makes_a_dead_letter():
    now = settled_server_time()
    TaskFactory(max_retries=0)
    queue.claim(raw_cursor(), uuid.uuid4(), None, 1)  # a worker with no row at all
    assert rescue.run_once(now) == 1
    assert Task.objects.get().status == TaskStatus.FAILED


def test_prune_deletes_finished_tasks_past_retention(settings):
    now = timezone.now()
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "RETENTION": 3600, "FAILED_RETENTION": 7200}
    old_done = TaskFactory(status=TaskStatus.COMPLETED, completed_at=now - timedelta(hours=2))
    recent_done = TaskFactory(status=TaskStatus.COMPLETED, completed_at=now - timedelta(minutes=5))
    old_failed = TaskFactory(status=TaskStatus.FAILED, completed_at=now - timedelta(hours=3))
    young_failed = TaskFactory(status=TaskStatus.FAILED, completed_at=now - timedelta(hours=1.5))
    pending = TaskFactory()
    WorkerFactory(last_heartbeat=now - timedelta(days=2))

    assert prune.run_once(now) == 2

    remaining = set(Task.objects.values_list("pk", flat=True))
    assert remaining == {recent_done.pk, young_failed.pk, pending.pk}
    assert old_done.pk not in remaining and old_failed.pk not in remaining
    assert Worker.objects.count() == 0


def test_counters_follow_every_change_and_fold_without_drift():
    now = timezone.now()
    tasks = [queue.enqueue("echo", i) for i in range(5)]
    queue.enqueue("echo", run_at=now + timedelta(hours=1))
    worker = uuid.uuid4()
    jobs = queue.claim(raw_cursor(), worker, None, 3)
    queue.complete(raw_cursor(), worker, [Outcome(j.id, j.attempt, True, "1", None, 0, 0) for j in jobs[:2]])
    error = {"type": "x.Error", "message": "boom", "traceback": ""}
    queue.fail(raw_cursor(), [Failure(jobs[2], worker, TaskStatus.FAILED, None, 0, error, None, now)])
    queue.cancel(tasks[4])
    expected = {"pending": 1, "processing": 0, "completed": 2, "failed": 1, "scheduled": 1, "cancelled": 1}

    def reported():
        stats = summary.stats(now)
        return {status: stats[f"{status}_count"] for status in expected}

    assert reported() == expected
    assert fold_stats.run_once(now) > 0
    assert StatDelta.objects.count() == 0
    assert reported() == expected
    actual = {s: Task.objects.filter(status=s).count() for s in expected}
    assert actual == expected
    minute = counters.per_minute(timezone.now())[-1]
    assert (minute["completed"], minute["failed"]) == (2, 1)
    Task.objects.filter(status=TaskStatus.COMPLETED).delete()
    assert summary.stats(now)["completed_count"] == 0
    assert summary.stats(now)["total_tasks"] == 4


def test_oldest_pending_age_uses_the_earliest_run_at_across_priorities():
    now = timezone.now()
    TaskFactory(priority=10, run_at=now - timedelta(seconds=5), created_at=now - timedelta(seconds=5))
    TaskFactory(priority=-3, run_at=now - timedelta(seconds=90), created_at=now - timedelta(seconds=90))
    TaskFactory(priority=0, run_at=now - timedelta(seconds=30), created_at=now - timedelta(seconds=30),
                queue="other")
    assert summary.stats(now)["oldest_pending_age_seconds"] == pytest.approx(90, abs=0.01)


def test_rescue_gives_workers_a_full_threshold_after_the_database_restarts(settings):
    """Workers were silent while the database was away: no rescue until they had time to reconnect."""
    started = server_start()
    threshold = timedelta(seconds=settings.TASK_QUEUE["WORKER_TIMEOUT"])
    silent = WorkerFactory(last_heartbeat=started - timedelta(hours=1))  # last beat before the restart
    TaskFactory()
    queue.claim(raw_cursor(), silent.id, None, 1)

    assert rescue.run_once(started + threshold / 2) == 0
    assert rescue.run_once(started + threshold + timedelta(seconds=1)) == 1
