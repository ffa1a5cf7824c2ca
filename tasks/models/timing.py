"""Metrics over time: wait and run time histograms, and failures, per period.

Folded from the event log by housekeeping (tasks/telemetry/history.py), once
per event. Each row is one histogram bin of one period, for one queue (type
'') or one task type (queue ''): the charts ask "per queue" or "per type",
never both at once, so the cross product is not stored. Three resolutions,
each kept as long as the widest window that reads it needs: 1-minute rows
(the last hour), 15-minute rows (24 hours), 1-hour rows (7 days). The table
grows with time and the number of queues and types, never with the number
of tasks.
"""

from django.db import models


class TimingKind(models.TextChoices):
    # From runnable (run_at) to claimed, for each task a worker claimed.
    WAIT = "wait", "Wait time"
    # From started to completed, for each task that completed.
    RUN = "run", "Run time"
    # Tasks that failed for good (new dead letters); a count, bin -1.
    FAILED = "failed", "Failed"


class TimingCount(models.Model):
    resolution = models.IntegerField(help_text="The period's length in seconds: 60, 900 or 3600.")
    start = models.DateTimeField(help_text="The period's start.")
    queue = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=8, choices=TimingKind.choices)
    # Index into tasks.telemetry.history.BOUNDS (width_bucket's numbering); -1 for a plain count.
    bin = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0, help_text="Seconds.")

    class Meta:
        constraints = [
            # Leads with (resolution, start): every read is one window of one resolution.
            models.UniqueConstraint(fields=["resolution", "start", "queue", "type", "kind", "bin"],
                                    name="timingcount_key"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}/{self.resolution}s {self.queue or self.type} {self.kind}[{self.bin}]"
