"""Statistics and per-queue summaries, as the REST API and the dashboard show them.

Built once here from the counters (counters.py) and the queue rows, so that
/api/stats, /api/queues, the dashboard and the command line agree to the task.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from tasks import conf
from tasks.models import Queue, TaskStatus, Worker
from tasks.telemetry import counters, flow_state


@dataclass
class QueueSummary:
    name: str
    counts: dict[str, int]  # every status, zeros included
    paused: bool
    max_pending: int | None  # the queue's own backpressure limit; None: the default
    pending_limit: int | None  # the limit in force; None: none
    oldest_pending_age: float | None  # seconds
    exists: bool  # a queue exists once it has tasks or a settings row
    completed_last_hour: int = 0
    failed_last_hour: int = 0
    flow: dict | None = None  # flow-control limits and their use (flow_state.py); None: no limits

    @property
    def depth(self) -> int:
        """Tasks waiting to run: pending now, plus scheduled for later."""
        return self.counts[TaskStatus.PENDING] + self.counts[TaskStatus.SCHEDULED]

    def as_json(self) -> dict:
        """The queue as /api/queues returns it."""
        return {
            "name": self.name,
            "paused": self.paused,
            "max_pending": self.max_pending,
            "pending_limit": self.pending_limit,
            "counts": self.counts,
            "oldest_pending_age_seconds": None if self.oldest_pending_age is None else round(self.oldest_pending_age, 3),
            "flow": self.flow,
        }


def queues(now: datetime, *, by_queue: dict | None = None, minutes: list[dict] | None = None,
           names: list[str] | None = None) -> list[QueueSummary]:
    """One summary per queue that has tasks or a settings row (or per name of
    `names`), by name. `by_queue` is counters.counts() and `minutes` the last
    hour of counters.per_minute(), when the caller has them; throughput is
    filled only when `minutes` is given."""
    by_queue = counters.counts() if by_queue is None else by_queue
    settings_rows = Queue.objects.all() if names is None else Queue.objects.filter(name__in=names)
    rows = {row.name: row for row in settings_rows}
    wanted = sorted(names if names is not None else set(by_queue) | set(rows) | set(conf.get("LIMITS") or {}))
    last_hour = _last_hour_by_queue(minutes or [])
    return [_summary(name, rows.get(name), by_queue.get(name, {}), now, last_hour.get(name, {})) for name in wanted]


def queue(name: str, now: datetime) -> QueueSummary:
    """The summary of one queue (see `exists`)."""
    return queues(now, names=[name])[0]


def stats(now: datetime | None = None, minutes: list[dict] | None = None) -> dict:
    """Everything /api/stats reports: the counts by status, then per queue, throughput and the oldest wait.
    `minutes` is counters.per_minute(now, 61), when the caller has read it already."""
    now = now or timezone.now()
    by_queue = counters.counts()
    totals = {status: 0 for status in TaskStatus.values}
    for statuses in by_queue.values():
        for status, count in statuses.items():
            totals[status] = totals.get(status, 0) + count
    # Full minutes only: the current one is still filling, and a partial count
    # would read as a drop in throughput.
    last_hour = (minutes or counters.per_minute(now, 61))[:-1]
    oldest = [t for t in (counters.oldest_pending(q) for q, s in by_queue.items() if s.get("pending")) if t]
    return {
        "total_tasks": sum(totals.values()),
        "pending_count": totals["pending"],
        "processing_count": totals["processing"],
        "completed_count": totals["completed"],
        "failed_count": totals["failed"],
        "scheduled_count": totals["scheduled"],
        "cancelled_count": totals["cancelled"],
        "waiting_count": totals["waiting"],
        "worker_count": Worker.objects.alive(now).count(),
        "queues": {
            queue: {status: statuses.get(status, 0) for status in TaskStatus.values}
            for queue, statuses in sorted(by_queue.items())
        },
        "throughput": {
            "last_minute": counters.sum_minutes(last_hour[-1:]),
            "last_hour": counters.sum_minutes(last_hour),
        },
        "oldest_pending_age_seconds": round((now - min(oldest)).total_seconds(), 3) if oldest else None,
    }


def _summary(name: str, row: Queue | None, counts: dict[str, int], now: datetime,
             last_hour: dict[str, int]) -> QueueSummary:
    own = row.max_pending if row is not None else None
    limit = own if own is not None else conf.get("MAX_PENDING")
    oldest = counters.oldest_pending(name) if counts.get(TaskStatus.PENDING) else None
    return QueueSummary(
        name=name,
        counts={status: counts.get(status, 0) for status in TaskStatus.values},
        paused=bool(row and row.paused),
        max_pending=own,
        pending_limit=limit or None,
        oldest_pending_age=(now - oldest).total_seconds() if oldest else None,
        exists=row is not None or any(counts.values()),
        completed_last_hour=last_hour.get("completed", 0),
        failed_last_hour=last_hour.get("failed", 0),
        flow=flow_state.state(name, row, counts, now),
    )


def _last_hour_by_queue(minutes: list[dict]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for minute in minutes:
        for name, counts in minute["queues"].items():
            queue_totals = totals.setdefault(name, {"completed": 0, "failed": 0})
            queue_totals["completed"] += counts["completed"]
            queue_totals["failed"] += counts["failed"]
    return totals
