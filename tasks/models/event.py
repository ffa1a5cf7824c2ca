"""The event log behind /api/events and the Prometheus counters.

Triggers on the task, worker and webhook-delivery tables append one row per
statement and (event, queue, type, worker): a claim of 100 tasks writes one
`task.started` row holding 100 task ids, not 100 rows. Readers walk the log in
(xid, id) order and stop below the oldest transaction still open in this
database (see tasks/events.py), so a row that commits late is never skipped.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class EventName(models.TextChoices):
    # A task was enqueued (scheduled or pending).
    TASK_CREATED = "task.created", "Task created"
    # A worker claimed it; `seconds` holds the queue wait (claim time - run_at).
    TASK_STARTED = "task.started", "Task started"
    # It completed; `seconds` holds the run time.
    TASK_COMPLETED = "task.completed", "Task completed"
    # Its last attempt failed and no retries remain: a dead letter.
    TASK_FAILED = "task.failed", "Task failed"
    # An attempt failed and a retry is scheduled, or an operator retried it by hand.
    TASK_RETRIED = "task.retried", "Task retried"
    # Cancelled (or purged) before it ran.
    TASK_CANCELLED = "task.cancelled", "Task cancelled"
    WORKER_STARTED = "worker.started", "Worker started"
    WORKER_PAUSED = "worker.paused", "Worker paused"
    WORKER_RESUMED = "worker.resumed", "Worker resumed"
    WORKER_STOPPING = "worker.stopping", "Worker stopping"
    WORKER_STOPPED = "worker.stopped", "Worker stopped"
    # A webhook was delivered (2xx), or given up after its last attempt.
    WEBHOOK_DELIVERED = "webhook.delivered", "Webhook delivered"
    WEBHOOK_FAILED = "webhook.failed", "Webhook failed"
    # A closed batch's tasks have all finished; `data` holds its counts, `task_ids`
    # the callbacks released (tasks/models/workflow.py).
    BATCH_FINISHED = "batch.finished", "Batch finished"


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    # The writing transaction (pg_current_xact_id); see the module docstring.
    xid = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=40, choices=EventName.choices)
    queue = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=100, blank=True)
    worker_id = models.UUIDField(null=True, blank=True)
    task_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    # Per task, in task_ids order: its attempt number, and for task.started the
    # queue wait and for task.completed the run time, in seconds.
    attempts = ArrayField(models.IntegerField(), null=True, blank=True)
    seconds = ArrayField(models.FloatField(null=True), null=True, blank=True)
    # Worker events: hostname, pid, queues, concurrency, state.
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["xid", "id"]
        indexes = [models.Index(fields=["xid", "id"], name="event_order_idx")]

    def __str__(self) -> str:
        return f"{self.event} {self.queue}/{self.type} ({len(self.task_ids)} task(s))"


class EventCursor(models.Model):
    """How far a reader that must see every event once (the metrics fold) has read."""

    name = models.CharField(max_length=40, primary_key=True)
    xid = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)


class EventStream(models.Model):
    """A web process with open /api/events streams. Triggers send NOTIFY only
    while one is registered: PostgreSQL serialises the commits of transactions
    that NOTIFY, a cost the hot path should pay only when someone listens."""

    id = models.UUIDField(primary_key=True)
    expires_at = models.DateTimeField()


class MetricCount(models.Model):
    """Folded Prometheus counters and histogram buckets, per queue and task type.

    `name` is an event name (a counter; le = -1) or "wait"/"duration" (a
    histogram; le = bucket index into tasks.metrics.BUCKETS, `sum` in seconds).
    """

    queue = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    name = models.CharField(max_length=40)
    le = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "type", "name", "le"], name="metriccount_key")]
