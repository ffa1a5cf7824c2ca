"""Counters behind /api/stats, kept exact without counting a large table.

Triggers on the task table append one delta row per statement and status
(insert-only, so concurrent workers never wait on each other); a housekeeping
chore folds deltas into StatCount and per-minute throughput into StatMinute.
Reading = folded counts + the few deltas not folded yet.
"""

from django.db import models


class StatDelta(models.Model):
    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    delta = models.IntegerField()
    bucket = models.DateTimeField(help_text="The minute of the change.")


class StatCount(models.Model):
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "status"], name="statcount_key")]


class StatMinute(models.Model):
    """Tasks that reached completed or failed, per minute and queue."""

    bucket = models.DateTimeField()
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "queue", "status"], name="statminute_key")]
