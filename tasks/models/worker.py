"""Worker processes, as operators see and steer them."""

import os
import socket
from datetime import datetime, timedelta

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import F
from django.utils import timezone
from uuid6 import uuid7

from tasks import conf
from tasks.db import steer_workers


class WorkerState(models.TextChoices):
    # Claiming and running tasks.
    RUNNING = "running", "Running"
    # Finishing what it holds but claiming nothing new, until resumed.
    PAUSED = "paused", "Paused"
    # Shutting down: finishing in-flight tasks within the grace period.
    STOPPING = "stopping", "Stopping"
    # Exited cleanly.
    STOPPED = "stopped", "Stopped"


# The row's state is the operator's: paused or running. The worker only writes
# "stopping" (here) and "stopped" (on exit).
HEARTBEAT = """
UPDATE tasks_worker
SET last_heartbeat = now(), processed = processed + %(processed)s, failed = failed + %(failed)s,
    busy = %(busy)s,
    state = CASE WHEN %(stopping)s THEN 'stopping' ELSE state END
WHERE id = %(id)s
RETURNING state
"""


class WorkerQuerySet(models.QuerySet):
    def alive(self, now: datetime | None = None):
        """Workers that heartbeated within the rescue threshold and have not stopped."""
        now = now or timezone.now()
        cutoff = now - timedelta(seconds=conf.get("WORKER_TIMEOUT"))
        return self.filter(last_heartbeat__gte=cutoff).exclude(state=WorkerState.STOPPED)


class Worker(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = ArrayField(models.CharField(max_length=100), default=list)
    concurrency = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=WorkerState.choices, default=WorkerState.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    processed = models.BigIntegerField(default=0, help_text="Tasks completed.")
    failed = models.BigIntegerField(default=0, help_text="Attempts that failed.")
    busy = models.PositiveIntegerField(default=0, help_text="Slots running a task at the last heartbeat.")

    objects = WorkerQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return f"{self.hostname}:{self.pid}"

    @classmethod
    def register(cls, worker_id, *, queues: list[str], concurrency: int) -> "Worker":
        """The row of a worker starting in this process."""
        return cls.objects.create(id=worker_id, hostname=socket.gethostname(), pid=os.getpid(),
                                  queues=queues, concurrency=concurrency, state=WorkerState.RUNNING)

    @classmethod
    def beat(cls, worker_id, *, processed: int, failed: int, busy: int, stopping: bool) -> str | None:
        """Record a heartbeat and the counts since the last one; returns the state
        operators want (running or paused), or None if the row was deleted."""
        with connection.cursor() as cursor:
            cursor.execute(HEARTBEAT, {"id": worker_id, "processed": processed, "failed": failed,
                                       "busy": busy, "stopping": stopping})
            row = cursor.fetchone()
        return row[0] if row else None

    @classmethod
    def mark_stopped(cls, worker_id, *, processed: int, failed: int) -> None:
        now = timezone.now()
        cls.objects.filter(pk=worker_id).update(
            state=WorkerState.STOPPED, stopped_at=now, last_heartbeat=now,
            processed=F("processed") + processed, failed=F("failed") + failed,
        )

    def is_alive(self, now: datetime | None = None) -> bool:
        return Worker.objects.filter(pk=self.pk).alive(now).exists()

    def heartbeat_age(self, now: datetime | None = None) -> timedelta:
        return (now or timezone.now()) - self.last_heartbeat

    def pause(self) -> bool:
        """Stop claiming (running tasks finish); honoured within a second. False if not running."""
        return self._steer(WorkerState.RUNNING, WorkerState.PAUSED)

    def resume(self) -> bool:
        """Claim again after a pause. False if not paused."""
        return self._steer(WorkerState.PAUSED, WorkerState.RUNNING)

    def _steer(self, current: str, wanted: str) -> bool:
        changed = Worker.objects.filter(pk=self.pk, state=current).update(state=wanted)
        if changed:
            self.state = wanted
            steer_workers(str(self.pk))
        return bool(changed)
