"""Delete finished tasks past their retention, and the history around them."""

from datetime import datetime, timedelta

from django.db import connection, transaction

from tasks import conf
from tasks.maintenance.locks import try_lock

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
DELETE_WORKERS = "DELETE FROM tasks_worker WHERE last_heartbeat < %s"
DELETE_MINUTES = "DELETE FROM tasks_statminute WHERE bucket < %s"


def run_once(now: datetime) -> int:
    """Delete expired finished tasks; returns how many. 0 retention keeps them forever."""
    deleted = 0
    for statuses, seconds in ((["completed", "cancelled"], conf.get("RETENTION")),
                              (["failed"], conf.get("FAILED_RETENTION"))):
        if seconds > 0:
            deleted += _delete(DELETE_FINISHED, [statuses, now - timedelta(seconds=seconds)])
    with transaction.atomic():
        if try_lock("prune"):
            with connection.cursor() as cursor:
                cursor.execute(DELETE_WORKERS, [now - timedelta(days=1)])
                cursor.execute(DELETE_MINUTES, [now - timedelta(days=2)])
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
