"""Delete finished tasks past their retention, and the history around them
(worker rows, per-minute counts, metrics over time)."""

from datetime import datetime, timedelta

from django.db import connection, transaction

from tasks import conf
from tasks.db import try_lock
from tasks.telemetry import history

BATCH = 5000

# Oldest first along the (status, id) index: ids are time-ordered, so the rows
# past retention come first and each batch stops early.
DELETE_FINISHED = """
DELETE FROM tasks_task WHERE id IN (
    SELECT id FROM tasks_task
    WHERE status = ANY(%s) AND completed_at < %s
    ORDER BY status, id LIMIT %s
)
"""
COUNT_FINISHED = "SELECT count(*) FROM tasks_task WHERE status = ANY(%s) AND completed_at < %s"
DELETE_WORKERS = "DELETE FROM tasks_worker WHERE last_heartbeat < %s"
DELETE_MINUTES = "DELETE FROM tasks_statminute WHERE bucket < %s"


def retention(now: datetime) -> list[tuple[str, list[str], datetime]]:
    """(what, statuses, cutoff) for each kind of finished task kept for a while;
    a retention of 0 keeps that kind forever and is left out."""
    kinds = [("completed and cancelled tasks", ["completed", "cancelled"], conf.get("RETENTION")),
             ("failed tasks", ["failed"], conf.get("FAILED_RETENTION"))]
    return [(what, statuses, now - timedelta(seconds=seconds)) for what, statuses, seconds in kinds if seconds > 0]


def expired(now: datetime) -> dict[str, int]:
    """What run_once would delete now, by kind, without deleting it."""
    counts = {}
    with connection.cursor() as cursor:
        for what, statuses, cutoff in retention(now):
            cursor.execute(COUNT_FINISHED, [statuses, cutoff])
            counts[what] = cursor.fetchone()[0]
    return counts


def run_once(now: datetime) -> int:
    """Delete expired finished tasks; returns how many. 0 retention keeps them forever."""
    deleted = 0
    for _, statuses, cutoff in retention(now):
        deleted += _delete(DELETE_FINISHED, [statuses, cutoff])
    with transaction.atomic():
        if try_lock("prune"):
            with connection.cursor() as cursor:
                cursor.execute(DELETE_WORKERS, [now - timedelta(days=1)])
                cursor.execute(DELETE_MINUTES, [now - timedelta(days=2)])
            history.prune(now)
    return deleted


def _delete(sql: str, params: list) -> int:
    total = 0
    while True:
        with transaction.atomic():
            if not try_lock("prune"):
                return total
            with connection.cursor() as cursor:
                cursor.execute(sql, [*params, BATCH])
                total += cursor.rowcount
                if cursor.rowcount < BATCH:
                    return total
