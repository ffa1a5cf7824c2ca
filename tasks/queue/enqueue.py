"""Producers: validate and insert tasks, in the caller's transaction.

A task enqueued in a transaction that rolls back never exists; one committed is
seen by workers at once (a trigger sends NOTIFY when a row becomes pending).
Unique and idempotency keys return the task that already holds the key.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from tasks import conf, validation
from tasks.db import copy_insert
from tasks.models import ACTIVE_STATUSES, Task, TaskStatus

IDEMPOTENCY_CONSTRAINT = "task_idempotency_key"

def build(
    type: str,
    payload: Any = None,
    *,
    queue: str = "default",
    priority: int = 0,
    run_at: datetime | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    retry_backoff: float | None = None,
    webhook: str = "",
    unique_key: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Task:
    """Validate and return an unsaved task; ValidationError names each bad field."""
    now = now or timezone.now()
    run_at = run_at or now
    if message := validation.run_at_error(run_at):
        raise ValidationError({"scheduled_for": [message]})
    task = Task(
        type=type,
        payload=payload,
        queue=queue,
        priority=priority,
        status=TaskStatus.SCHEDULED if run_at > now else TaskStatus.PENDING,
        run_at=run_at,
        max_retries=conf.get("DEFAULT_MAX_RETRIES") if max_retries is None else max_retries,
        timeout=timeout,
        retry_backoff=retry_backoff,
        webhook=webhook or "",
        unique_key=unique_key,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    validation.validate_task(task)
    return task


def enqueue(type: str, payload: Any = None, **options: Any) -> Task:
    """Create one task in the caller's transaction; it is visible to workers at commit.

    With a `unique_key` that an active task holds, returns that task instead.
    """
    return insert(build(type, payload, **options))[0]


def insert(task: Task, *, unique_window: float | None = None) -> tuple[Task, bool]:
    """Insert a task made by `build`; returns (the task, True).

    With an `idempotency_key` or a `unique_key` that another task holds, inserts
    nothing and returns (that task, False); see `enqueue_idempotent` and
    `enqueue_unique`.
    """
    if task.idempotency_key is not None:
        return enqueue_idempotent(task)
    if task.unique_key is not None:
        return enqueue_unique(task, window=unique_window)
    task.save(force_insert=True)
    return task, True


# Serializes producers of one unique key until their transactions end, so that
# "look for a recent task, else insert" cannot interleave. Collisions of the
# 32-bit hash only make unrelated keys wait for each other.
LOCK_UNIQUE_KEY = "SELECT pg_advisory_xact_lock(hashtext('taskqueue:unique:' || %s))"


def enqueue_unique(task: Task, *, window: float | None = None) -> tuple[Task, bool]:
    """Insert `task` (made by `build`, with a unique_key) unless another holds its key.

    The key is held by an active task (scheduled, pending, processing): the
    partial unique index task_unique_key_active says so, race-free, through
    INSERT ... ON CONFLICT DO NOTHING (which waits for a concurrent producer's
    transaction to end) and a SELECT of the holder. With a `window` in seconds
    it is also held by any task with that key enqueued that recently, whatever
    its status; no index can say "recently", so producers take an advisory
    lock on the key and look first. Returns (the holder, whether it is `task`).
    """
    key = task.unique_key
    with transaction.atomic():
        if window:
            with connection.cursor() as cursor:
                cursor.execute(LOCK_UNIQUE_KEY, [key])
            since = task.created_at - timedelta(seconds=window)
            recent = Task.objects.filter(unique_key=key).filter(
                Q(status__in=ACTIVE_STATUSES) | Q(created_at__gt=since)
            ).order_by("-id").first()
            if recent is not None:
                return recent, False
        # The holder may finish between the INSERT and the SELECT: then try again.
        for _ in range(3):
            Task.objects.bulk_create([task], ignore_conflicts=True)
            holder = Task.objects.filter(unique_key=key, status__in=ACTIVE_STATUSES).first()
            if holder is not None:
                return holder, holder.pk == task.pk
    # Still no holder: the conflict was on another constraint; let it raise.
    task.save(force_insert=True)
    return task, True


def enqueue_many(tasks: Sequence[Task]) -> list[Task]:
    """Insert tasks made by `build` in one statement (COPY), all or nothing."""
    copy_insert(tasks)
    return list(tasks)


def enqueue_idempotent(task: Task) -> tuple[Task, bool]:
    """Insert a task made by `build` with an idempotency key, or return the task
    that already holds the key: (task, created).

    Race-free without locks: of concurrent duplicates one INSERT wins; the
    others block on the unique index until it commits, fail, and then read it.
    """
    for _ in range(3):  # the holder may be pruned between our INSERT and SELECT
        try:
            with transaction.atomic():
                task.save(force_insert=True)
            return task, True
        except IntegrityError as exc:
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != IDEMPOTENCY_CONSTRAINT:
                raise
        existing = Task.objects.filter(idempotency_key=task.idempotency_key).first()
        if existing is not None:
            return existing, False
    raise IntegrityError(f"Idempotency key {task.idempotency_key!r} kept conflicting; try again.")
