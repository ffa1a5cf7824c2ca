"""Queue statistics that stay cheap at any table size.

Counts come from StatCount plus the deltas not folded yet (see models/stats.py),
throughput from StatMinute, and the oldest pending task from a few probes of
the claim index; none of them scans the task table.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from tasks.maintenance import fold_stats
from tasks.models import TaskStatus, Worker

COUNTS = """
SELECT queue, status, sum(n)::bigint FROM (
    SELECT queue, status, count AS n FROM tasks_statcount
    UNION ALL
    SELECT queue, status, delta FROM tasks_statdelta
) s GROUP BY queue, status HAVING sum(n) <> 0
"""

# Completed and failed per minute, folded or not yet folded.
PER_MINUTE = """
SELECT bucket, status, sum(n)::bigint FROM (
    SELECT bucket, status, count AS n FROM tasks_statminute WHERE bucket >= %(since)s
    UNION ALL
    SELECT bucket, status, delta FROM tasks_statdelta
    WHERE delta > 0 AND status IN ('completed', 'failed') AND bucket >= %(since)s
) s GROUP BY bucket, status
"""

# The oldest run_at among a queue's pending tasks: one probe of the claim index
# per distinct priority (at most 201), instead of a scan of every pending row.
OLDEST_PENDING = """
WITH RECURSIVE p(priority, run_at) AS (
    (SELECT priority, run_at FROM tasks_task
     WHERE status = 'pending' AND queue = %(queue)s ORDER BY priority DESC, run_at LIMIT 1)
    UNION ALL
    SELECT n.priority, n.run_at FROM p CROSS JOIN LATERAL (
        SELECT priority, run_at FROM tasks_task
        WHERE status = 'pending' AND queue = %(queue)s AND priority < p.priority
        ORDER BY priority DESC, run_at LIMIT 1
    ) n
)
SELECT min(run_at) FROM p
"""


def counts() -> dict[str, dict[str, int]]:
    """{queue: {status: count}} for every queue with tasks."""
    fold_stats.catch_up()
    result: dict[str, dict[str, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(COUNTS)
        for queue, status, count in cursor.fetchall():
            result[queue][status] = count
    return dict(result)


def per_minute(now: datetime, minutes: int = 60) -> list[dict]:
    """Completed and failed tasks for each of the last `minutes` minutes, oldest first."""
    current = now.replace(second=0, microsecond=0)
    since = current - timedelta(minutes=minutes - 1)
    series = {since + timedelta(minutes=i): {"completed": 0, "failed": 0} for i in range(minutes)}
    fold_stats.catch_up()
    with connection.cursor() as cursor:
        cursor.execute(PER_MINUTE, {"since": since})
        for bucket, status, count in cursor.fetchall():
            if bucket in series:
                series[bucket][status] = count
    return [{"minute": bucket, **values} for bucket, values in series.items()]


def oldest_pending(queue: str) -> datetime | None:
    with connection.cursor() as cursor:
        cursor.execute(OLDEST_PENDING, {"queue": queue})
        return cursor.fetchone()[0]


def summary(now: datetime | None = None, minutes: list[dict] | None = None) -> dict:
    """Everything /api/stats reports; field names as in the reference API.
    `minutes` is per_minute(now, 61), when the caller has read it already."""
    now = now or timezone.now()
    by_queue = counts()
    totals = {status: 0 for status in TaskStatus.values}
    for statuses in by_queue.values():
        for status, count in statuses.items():
            totals[status] = totals.get(status, 0) + count
    # Full minutes only: the current one is still filling, and a partial count
    # would read as a drop in throughput.
    last_hour = (minutes or per_minute(now, 61))[:-1]
    oldest = [t for t in (oldest_pending(q) for q, s in by_queue.items() if s.get("pending")) if t]
    return {
        "total_tasks": sum(totals.values()),
        "pending_count": totals["pending"],
        "processing_count": totals["processing"],
        "completed_count": totals["completed"],
        "failed_count": totals["failed"],
        "scheduled_count": totals["scheduled"],
        "cancelled_count": totals["cancelled"],
        "worker_count": Worker.objects.alive(now).count(),
        "queues": {
            queue: {status: statuses.get(status, 0) for status in TaskStatus.values}
            for queue, statuses in sorted(by_queue.items())
        },
        "throughput": {
            "last_minute": _sum(last_hour[-1:]),
            "last_hour": _sum(last_hour),
        },
        "oldest_pending_age_seconds": round((now - min(oldest)).total_seconds(), 3) if oldest else None,
    }


def _sum(buckets: list[dict]) -> dict[str, int]:
    return {
        "completed": sum(b["completed"] for b in buckets),
        "failed": sum(b["failed"] for b in buckets),
    }
