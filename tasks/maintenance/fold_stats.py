"""Fold the per-statement count deltas into totals and per-minute throughput.

Triggers append deltas (insert-only, so writers never contend); this chore
keeps that table short. See tasks/stats.py for the reading side.
"""

from datetime import datetime

from django.db import connection, transaction

from tasks.maintenance.locks import try_lock

FOLD = """
WITH moved AS (
    DELETE FROM tasks_statdelta RETURNING queue, status, delta, bucket
), totals AS (
    INSERT INTO tasks_statcount (queue, status, count)
    SELECT queue, status, sum(delta) FROM moved GROUP BY queue, status
    ORDER BY queue, status
    ON CONFLICT (queue, status) DO UPDATE SET count = tasks_statcount.count + excluded.count
), minutes AS (
    INSERT INTO tasks_statminute (bucket, queue, status, count)
    SELECT bucket, queue, status, sum(delta) FROM moved
    WHERE delta > 0 AND status IN ('completed', 'failed')
    GROUP BY bucket, queue, status ORDER BY bucket, queue, status
    ON CONFLICT (bucket, queue, status) DO UPDATE SET count = tasks_statminute.count + excluded.count
)
SELECT count(*) FROM moved
"""


def run_once(now: datetime) -> int:
    """Fold every delta written so far; returns how many were folded."""
    with transaction.atomic():
        if not try_lock("fold_stats"):
            return 0
        with connection.cursor() as cursor:
            cursor.execute(FOLD)
            return cursor.fetchone()[0]
