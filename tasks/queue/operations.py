"""Operators' changes of many tasks at once, each one statement: cancel, retry,
purge, run now, reschedule, delete dead letters; and a running task's progress."""

from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from tasks.jobs import Job
from tasks.models import CANCELLABLE_STATUSES, RESCHEDULABLE_STATUSES, RETRYABLE_STATUSES, Task, TaskStatus


def cancel(tasks: QuerySet | Task, *, now: datetime | None = None) -> int:
    """Cancel the scheduled or pending tasks among `tasks` (or the one task); returns how many."""
    now = now or timezone.now()
    return _selection(tasks).filter(status__in=CANCELLABLE_STATUSES).update(
        status=TaskStatus.CANCELLED, completed_at=now, updated_at=now
    )


def retry(tasks: QuerySet | Task, *, now: datetime | None = None) -> int:
    """Put failed or cancelled tasks (or the one task) back to pending with a fresh
    set of retries; returns how many."""
    now = now or timezone.now()
    return _selection(tasks).filter(status__in=RETRYABLE_STATUSES).update(
        status=TaskStatus.PENDING, run_at=now, retry_count=0, completed_at=None, updated_at=now
    )


def purge(queue_name: str, *, now: datetime | None = None) -> int:
    """Cancel every scheduled and pending task of a queue; the rows stay, as history."""
    return cancel(Task.objects.filter(queue=queue_name), now=now)


def run_now(tasks: QuerySet | Task, *, now: datetime | None = None) -> int:
    """Make scheduled tasks runnable at once."""
    now = now or timezone.now()
    return _selection(tasks).filter(status=TaskStatus.SCHEDULED).update(
        status=TaskStatus.PENDING, run_at=now, updated_at=now
    )


def reschedule(tasks: QuerySet | Task, run_at: datetime, *, now: datetime | None = None) -> int:
    """Move the scheduled or pending tasks among `tasks` (or the one task) to
    `run_at`: scheduled while it is in the future, pending (runnable at once)
    when it has come. Returns how many."""
    now = now or timezone.now()
    status = TaskStatus.SCHEDULED if run_at > now else TaskStatus.PENDING
    return _selection(tasks).filter(status__in=RESCHEDULABLE_STATUSES).update(
        status=status, run_at=run_at, updated_at=now
    )


def delete_dead_letters(tasks: QuerySet | Task) -> int:
    """Delete the failed tasks among `tasks` in one statement (their webhook
    deliveries go with them, by a cascade in the database); returns how many."""
    return _selection(tasks).filter(status=TaskStatus.FAILED).delete()[0]


def _selection(tasks: QuerySet | Task) -> QuerySet:
    """A QuerySet of `tasks`, which may be one task."""
    return Task.objects.filter(pk=tasks.pk) if isinstance(tasks, Task) else tasks


# Fenced like outcomes: only the attempt that holds the task may report on it.
REPORT_PROGRESS = """
UPDATE tasks_task SET progress = %s, progress_message = %s, updated_at = now()
WHERE id = %s AND attempt = %s AND worker_id = %s AND status = 'processing'
"""


def report_progress(job: Job, value: float | None, message: str = "") -> bool:
    """Record how far the running `job` is (0..1) and what it is doing.

    False when the attempt no longer holds the task (it was rescued or timed out).
    """
    with connection.cursor() as cursor:
        cursor.execute(REPORT_PROGRESS, [value, message, job.id, job.attempt, job.worker_id])
        return cursor.rowcount == 1
