"""Queues: a name that tasks carry, and the settings operators give it."""

from django.db import models

from tasks.db import wake_workers


class Queue(models.Model):
    """Settings of one named queue. A queue exists as soon as a task names it;
    a row is only needed to pause it or give it its own limits."""

    name = models.CharField(max_length=100, primary_key=True)
    paused = models.BooleanField(default=False)
    max_pending = models.PositiveIntegerField(
        null=True, blank=True, help_text="Backpressure: refuse new tasks beyond this many pending."
    )
    # Flow control (tasks/queue/flow.py). null: the queue's entry in QUEUE_LIMITS, if
    # any; 0: no limit.
    max_running = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many tasks running at once, across every worker."
    )
    partition_by = models.CharField(
        max_length=200, blank=True, default="", db_default="",
        help_text="Payload path (dotted, e.g. customer.id) giving a task's partition when it has no "
                  "partition_key.",
    )
    partition_max_running = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many tasks of one partition running at once."
    )
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many tasks started per rate period, across every worker."
    )
    rate_period = models.FloatField(null=True, blank=True, help_text="Seconds; empty: 60.")
    partition_rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many tasks of one partition started per rate period."
    )
    ordered = models.BooleanField(
        default=False, db_default=False,
        help_text="Tasks sharing an ordering_key run one at a time, in enqueue order.",
    )
    # The rate limit's sliding log: [[epoch seconds, tasks started], ...] of the
    # claims within the last period. Written only by limited claims.
    rate_log = models.JSONField(null=True, blank=True, editable=False)
    # The same per partition, for partition_rate_limit: {partition: [[epoch seconds, started], ...]}.
    partition_rate_log = models.JSONField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def pause(cls, name: str) -> "Queue":
        """Workers stop claiming from this queue; tasks can still be enqueued."""
        queue, _ = cls.objects.update_or_create(name=name, defaults={"paused": True})
        return queue

    @classmethod
    def resume(cls, name: str) -> "Queue":
        queue, _ = cls.objects.update_or_create(name=name, defaults={"paused": False})
        wake_workers(name)
        return queue

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        wake_workers(self.name)  # a limit raised or lifted: waiting workers claim again

    @classmethod
    def is_paused(cls, name: str) -> bool:
        return cls.objects.filter(name=name, paused=True).exists()
