"""The queues as operators see them: depth, throughput, oldest pending, paused.

A queue exists as soon as a task names it, so the list is the union of the
queues in the counters and the queues with a settings row (a paused queue may
be empty). Everything here reads trigger-maintained counters and the claim
index; nothing counts the task table.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum

from tasks import stats
from tasks.models import Queue, StatDelta, StatMinute, TaskStatus

THROUGHPUT = (TaskStatus.COMPLETED, TaskStatus.FAILED)


@dataclass
class QueueRow:
    name: str
    counts: dict[str, int]
    paused: bool
    completed_last_hour: int
    failed_last_hour: int
    oldest_pending_age: float | None  # seconds

    @property
    def depth(self) -> int:
        """Tasks waiting to run: pending now, plus scheduled for later."""
        return self.counts.get("pending", 0) + self.counts.get("scheduled", 0)


def queue_rows(now: datetime, counts: dict[str, dict[str, int]] | None = None) -> list[QueueRow]:
    """One row per known queue, by name; `counts` is stats.counts() when the caller has it."""
    counts = stats.counts() if counts is None else counts
    paused = dict(Queue.objects.values_list("name", "paused"))
    throughput = last_hour_by_queue(now)
    rows = []
    for name in sorted(set(counts) | set(paused)):
        by_status = {status: counts.get(name, {}).get(status, 0) for status in TaskStatus.values}
        oldest = stats.oldest_pending(name) if by_status["pending"] else None
        rows.append(QueueRow(
            name=name, counts=by_status, paused=paused.get(name, False),
            completed_last_hour=throughput.get((name, "completed"), 0),
            failed_last_hour=throughput.get((name, "failed"), 0),
            oldest_pending_age=(now - oldest).total_seconds() if oldest else None,
        ))
    return rows


def last_hour_by_queue(now: datetime) -> dict[tuple[str, str], int]:
    """{(queue, status): tasks} that completed or failed in the last 60 minutes,
    folded (StatMinute) or not folded yet (StatDelta), as stats.per_minute reads them."""
    since = now.replace(second=0, microsecond=0) - timedelta(minutes=59)
    totals: dict[tuple[str, str], int] = {}
    folded = StatMinute.objects.filter(bucket__gte=since, status__in=THROUGHPUT)
    recent = StatDelta.objects.filter(bucket__gte=since, status__in=THROUGHPUT, delta__gt=0)
    for rows in (folded.values("queue", "status").annotate(n=Sum("count")),
                 recent.values("queue", "status").annotate(n=Sum("delta"))):
        for row in rows:
            key = (row["queue"], row["status"])
            totals[key] = totals.get(key, 0) + row["n"]
    return totals
