"""The task row: what to run, where it is in its lifecycle, and what happened."""

from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from django.utils import timezone

from tasks.access import PERMISSIONS
from tasks.db import uuid7


class TaskStatus(models.TextChoices):
    # Part of a workflow, and some of its dependencies are not finished yet; the
    # task that finishes the last one makes it pending (or scheduled).
    WAITING = "waiting", "Waiting"
    # Waiting for its run time (a delay or a retry backoff); housekeeping promotes it.
    SCHEDULED = "scheduled", "Scheduled"
    # Runnable now; the only rows the claim index holds.
    PENDING = "pending", "Pending"
    # Claimed by a worker, running or about to run.
    PROCESSING = "processing", "Processing"
    # The handler returned; `result` holds its return value.
    COMPLETED = "completed", "Completed"
    # Dead letter: the last attempt failed and no retries remain.
    FAILED = "failed", "Failed"
    # Cancelled before it ran.
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (TaskStatus.WAITING, TaskStatus.SCHEDULED, TaskStatus.PENDING, TaskStatus.PROCESSING)
FINISHED_STATUSES = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)
CANCELLABLE_STATUSES = (TaskStatus.WAITING, TaskStatus.SCHEDULED, TaskStatus.PENDING)
# Statuses whose run time may be changed (a waiting task runs when its dependencies allow).
RESCHEDULABLE_STATUSES = (TaskStatus.SCHEDULED, TaskStatus.PENDING)
RETRYABLE_STATUSES = (TaskStatus.FAILED, TaskStatus.CANCELLED)


class TaskQuerySet(models.QuerySet):
    """Domain words for selecting tasks; state changes go through tasks.queue."""

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def finished(self):
        return self.filter(status__in=FINISHED_STATUSES)

    def dead_letters(self, *, queue: str | None = None, type: str | None = None, error: str | None = None,
                     failed_after: datetime | None = None, failed_before: datetime | None = None,
                     cancelled: bool = False):
        """Failed tasks (and cancelled ones, if asked) matching every given filter."""
        statuses = [TaskStatus.FAILED, TaskStatus.CANCELLED] if cancelled else [TaskStatus.FAILED]
        tasks = self.filter(status__in=statuses)
        if queue:
            tasks = tasks.filter(queue=queue)
        if type:
            tasks = tasks.filter(type=type)
        if error:
            tasks = tasks.filter(last_error__icontains=error)
        if failed_after:
            tasks = tasks.filter(completed_at__gte=failed_after)
        if failed_before:
            tasks = tasks.filter(completed_at__lt=failed_before)
        return tasks


class Task(models.Model):
    # Time-ordered UUIDs: new rows land at the right edge of the primary key, and
    # "newest first" is an index scan on the key itself.
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    type = models.CharField(max_length=100)
    payload = models.JSONField(null=True, blank=True)
    queue = models.CharField(max_length=100, default="default")
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first, -100..100.")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    run_at = models.DateTimeField(default=timezone.now, help_text="When it may run (scheduled_for).")

    max_retries = models.PositiveSmallIntegerField(default=3)
    retry_count = models.PositiveSmallIntegerField(default=0, help_text="Automatic retries used.")
    # Claims so far; never decreases except when an unstarted claim is handed back.
    # Completions match on it, so a worker presumed dead cannot record an outcome.
    attempt = models.PositiveIntegerField(default=0)
    timeout = models.FloatField(null=True, blank=True, help_text="Seconds; empty uses the default.")
    retry_backoff = models.FloatField(
        null=True, blank=True, help_text="Backoff base in seconds; empty uses QUEUE_RETRY_BASE."
    )
    webhook = models.URLField(max_length=2000, blank=True)
    # The client's own labels (document 003's `metadata`): a JSON object, stored
    # and returned as given, searchable by containment (?metadata={"user_id": "123"}).
    metadata = models.JSONField(null=True, blank=True)
    # The module that defines a Python (@task) type, recorded by the producer's
    # registry, never taken from a client: a worker that has not imported it
    # imports it to run the task (tasks.handlers.registry.load).
    module = models.CharField(max_length=200, blank=True, default="", db_default="")

    # Workflows and batches (tasks/models/workflow.py). Plain ids, not foreign
    # keys: a foreign key adds a check to every insert and update of the task
    # table, which tasks outside workflows would pay for.
    workflow_id = models.UUIDField(null=True, blank=True)
    node = models.CharField(max_length=100, blank=True, default="", db_default="",
                            help_text="The task's name in its workflow.")
    batch_id = models.UUIDField(null=True, blank=True)
    # How many dependencies a waiting workflow task still waits for.
    waiting_on = models.IntegerField(default=0, db_default=0)

    result = models.JSONField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # One entry per failed attempt: attempt, worker, at, type, message, traceback.
    errors = models.JSONField(default=list, blank=True)
    worker_id = models.UUIDField(null=True, blank=True, help_text="The worker of the latest claim.")
    progress = models.FloatField(null=True, blank=True)
    progress_message = models.CharField(max_length=500, blank=True)

    unique_key = models.CharField(max_length=255, null=True, blank=True)
    # Flow control (tasks/queue/flow.py): the partition whose limits the task
    # counts against (else the queue's partition_by path into the payload), and
    # the key whose tasks run one at a time, in enqueue order, in an ordered queue.
    partition_key = models.CharField(max_length=255, null=True, blank=True)
    ordering_key = models.CharField(max_length=255, null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When it finished.")

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # The scopes of tasks.access, as permissions that groups and users can hold.
        permissions = PERMISSIONS
        indexes = [
            # Serves the claim: WHERE status = 'pending' AND queue = $q ORDER BY priority DESC, run_at, id.
            models.Index(
                "queue", models.F("priority").desc(), "run_at", "id",
                name="task_claim_idx", condition=Q(status="pending"),
            ),
            # Serves promotion of due scheduled rows, and the list of scheduled tasks by run
            # time: the id breaks ties (many tasks scheduled for one instant) for keyset pages.
            models.Index(fields=["run_at", "id"], name="task_scheduled_run_idx", condition=Q(status="scheduled")),
            # A workflow's and a batch's tasks. Partial: tasks outside them pay nothing.
            models.Index(fields=["workflow_id"], name="task_workflow_idx", condition=Q(workflow_id__isnull=False)),
            models.Index(fields=["batch_id"], name="task_batch_idx", condition=Q(batch_id__isnull=False)),
            # Serves lists filtered by status (newest first), rescue and pruning.
            models.Index(fields=["status", "-id"], name="task_status_idx"),
            # Serves the dead letters in failure order, newest first. Partial: only rows
            # that reach `failed` pay for it, never the enqueue, claim or completion.
            models.Index(models.F("completed_at").desc(), models.F("id").desc(), name="task_failed_idx",
                         condition=Q(status="failed")),
            # Serves ?metadata={...} (containment). Partial: tasks without metadata,
            # the usual case, never pay for it on insert.
            GinIndex(fields=["metadata"], opclasses=["jsonb_path_ops"], name="task_metadata_idx",
                     condition=Q(metadata__isnull=False)),
            # Serves the ordered claim's "an earlier task of this key is unfinished".
            # Only rows with a key are in it: other tasks never pay for it.
            models.Index(fields=["queue", "ordering_key", "id"], name="task_ordering_idx",
                         condition=Q(ordering_key__isnull=False, status__in=ACTIVE_STATUSES)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=TASK_MIN_PRIORITY, priority__lte=TASK_MAX_PRIORITY),
                name="task_priority_range",
            ),
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.UniqueConstraint(
                fields=["unique_key"], name="task_unique_key_active",
                condition=Q(unique_key__isnull=False, status__in=ACTIVE_STATUSES),
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="task_idempotency_key",
                condition=Q(idempotency_key__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def retries_label(self) -> str:
        return f"{self.retry_count}/{self.max_retries}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.completed_at:
            return self.completed_at - self.started_at
        return None

    def as_json(self, zone: tzinfo | None = None) -> dict[str, Any]:
        """The task as the REST API returns it and webhooks receive it.

        Built by hand rather than by a DRF serializer: it is on the hot path of
        every read, and the webhook sender in the worker has no business with DRF.
        Times are ISO 8601 in the current time zone (or `zone`: a page of tasks
        looks it up once), "Z" for UTC, as DRF writes them.
        """
        zone = zone or timezone.get_current_timezone()
        return {
            "id": str(self.id), "type": self.type, "payload": self.payload, "status": self.status,
            "priority": self.priority, "queue": self.queue, "max_retries": self.max_retries,
            "retry_count": self.retry_count, "attempt": self.attempt, "scheduled_for": _iso(self.run_at, zone),
            "timeout": self.timeout, "webhook": self.webhook, "metadata": self.metadata,
            "result": self.result, "error": self.last_error,
            "progress": self.progress, "progress_message": self.progress_message,
            "worker_id": None if self.worker_id is None else str(self.worker_id),
            # Workflows and batches (docs/workflows.md): null and "" for a task outside them.
            "workflow_id": None if self.workflow_id is None else str(self.workflow_id), "node": self.node,
            "batch_id": None if self.batch_id is None else str(self.batch_id),
            "created_at": _iso(self.created_at, zone), "updated_at": _iso(self.updated_at, zone),
            "started_at": _iso(self.started_at, zone), "completed_at": _iso(self.completed_at, zone),
        }


def _iso(value: datetime | None, zone: tzinfo) -> str | None:
    if value is None:
        return None
    text = timezone.localtime(value, zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
