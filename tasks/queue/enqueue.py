"""Producers: validate and insert tasks, in the caller's transaction.

A task enqueued in a transaction that rolls back never exists; one committed is
seen by workers at once (a trigger sends NOTIFY when a row becomes pending).
Unique and idempotency keys return the task that already holds the key.

What a type declares in the registry (a @task's retries, timeout, backoff,
unique key and module) is applied by `build`, so every path that creates a
task (Python, REST, schedules, the command line) gets the same defaults.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.base import ModelState
from django.utils import timezone

from tasks import conf, validation
from tasks.db import uuid7
from tasks.handlers import registry
from tasks.models import ACTIVE_STATUSES, Task, TaskStatus
from tasks.queue import ordering
from tasks.queue.inserts import insert_many, insert_one

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
    metadata: dict | None = None,
    partition_key: str | None = None,
    ordering_key: str | None = None,
    now: datetime | None = None,
    declared: bool = True,
) -> Task:
    """Validate and return an unsaved task; ValidationError names each bad field.

    Options left as None take the type's declared ones (see the registry),
    then the queue's defaults. `declared=False` skips the former: the Python
    API passes a @task's options (and its unique key) already resolved."""
    now = now or timezone.now()
    if run_at is None:
        run_at = now
    elif message := validation.run_at_error(run_at):
        raise ValidationError({"scheduled_for": [message]})
    handler = registry.find(type)
    if declared and handler is not None and handler.defaults is not None:
        options = handler.defaults()
        max_retries = options.get("max_retries") if max_retries is None else max_retries
        timeout = options.get("timeout") if timeout is None else timeout
        retry_backoff = options.get("retry_backoff") if retry_backoff is None else retry_backoff
    task = _new({
        "id": uuid7(), "type": type, "payload": payload, "queue": queue, "priority": priority,
        "status": TaskStatus.SCHEDULED if run_at > now else TaskStatus.PENDING, "run_at": run_at,
        "max_retries": conf.get("DEFAULT_MAX_RETRIES") if max_retries is None else max_retries,
        "retry_count": 0, "attempt": 0, "timeout": timeout, "retry_backoff": retry_backoff,
        "webhook": webhook or "", "metadata": metadata, "module": handler.module if handler is not None else "",
        "workflow_id": None, "node": "", "batch_id": None, "waiting_on": 0,
        "result": None, "last_error": "", "errors": [], "worker_id": None, "progress": None,
        "progress_message": "", "unique_key": unique_key, "idempotency_key": idempotency_key,
        "created_at": now, "updated_at": now, "started_at": None, "completed_at": None,
        "partition_key": partition_key, "ordering_key": ordering_key,
    })
    validation.validate_task(task)
    if ordering_key is not None:
        ordering.check(queue)
    if declared and unique_key is None and handler is not None and handler.unique_key is not None:
        task.unique_key = handler.unique_key(payload)
    return task


def build_many(type: str, payloads: Sequence[Any], **options: Any) -> list[Task]:
    """`build` for many payloads of one type with the same options, at one time.

    The options are checked once, then each payload; ValidationError names the
    first bad payload by its index. The bulk path of @task functions."""
    if not payloads:
        return []
    options.setdefault("now", timezone.now())
    first = build(type, payloads[0], **options)
    handler = registry.find(type)
    keyed = (options.get("declared", True) and options.get("unique_key") is None
             and handler is not None and handler.unique_key is not None)
    template = {name: value for name, value in first.__dict__.items() if name != "_state"}
    tasks = [first]
    for index, payload in enumerate(payloads[1:], 1):
        if message := validation.payload_error(type, payload):
            raise ValidationError({"payload": [f"Task {index}: {message}"]})
        tasks.append(_new({**template, "id": uuid7(), "payload": payload, "errors": [],
                           "unique_key": handler.unique_key(payload) if keyed else template["unique_key"]}))
    return tasks


def _new(values: dict[str, Any]) -> Task:
    """An unsaved Task with these field values, made without Model.__init__.

    __init__ walks every field and sends pre_init and post_init (which nothing
    listens to for tasks): several times the cost of the rest of a bulk
    enqueue's row. Every field is given here, so no default is missed and no
    field is deferred; the instance saves and serializes as any other."""
    task = Task.__new__(Task)
    task.__dict__.update(values)
    task._state = ModelState()
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
    `enqueue_unique`. A unique type's own window applies unless one is given.
    """
    if task.idempotency_key is not None:
        return enqueue_idempotent(task)
    if task.unique_key is not None:
        if unique_window is None and (handler := registry.find(task.type)) is not None:
            unique_window = handler.unique_window
        return enqueue_unique(task, window=unique_window)
    insert_one(task)
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
                return (task, True) if holder.pk == task.pk else (holder, False)
    # Still no holder: the conflict was on another constraint; let it raise.
    task.save(force_insert=True)
    return task, True


def enqueue_many(tasks: Sequence[Task]) -> list[Task]:
    """Insert tasks made by `build`, all or nothing, and return them in order.

    Tasks without keys go in one statement. A task whose unique or idempotency
    key is held (by an earlier task, or by one before it in `tasks`) is
    replaced in the answer by the holder, as `insert` does for one task."""
    keyed = [i for i, task in enumerate(tasks) if task.unique_key is not None or task.idempotency_key is not None]
    if not keyed:
        insert_many(tasks)
        return list(tasks)
    answer = list(tasks)
    with transaction.atomic():
        insert_many([task for task in tasks if task.unique_key is None and task.idempotency_key is None])
        for i in keyed:
            answer[i] = insert(tasks[i])[0]
    return answer


def enqueue_idempotent(task: Task) -> tuple[Task, bool]:
    """Insert a task made by `build` with an idempotency key, or return the task
    that already holds the key: (task, created).

    Race-free without locks: of concurrent duplicates one INSERT wins; the
    others block on the unique index until it commits, fail, and then read it.
    """
    for _ in range(3):  # the holder may be pruned between our INSERT and SELECT
        try:
            with transaction.atomic():
                insert_one(task)
            return task, True
        except IntegrityError as exc:
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != IDEMPOTENCY_CONSTRAINT:
                raise
        existing = Task.objects.filter(idempotency_key=task.idempotency_key).first()
        if existing is not None:
            return existing, False
    raise IntegrityError(f"Idempotency key {task.idempotency_key!r} kept conflicting; try again.")
