"""Fold the per-statement count deltas into totals and per-minute throughput.

Triggers append deltas (insert-only, so writers never contend); this chore
keeps that table short. See tasks/stats.py for the reading side.
"""

import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from tasks.maintenance.locks import try_lock

# Readers add up the deltas not folded yet. Workers fold every second, but with
# no worker running housekeeping (all stopped while producers go on) the deltas
# pile up, and every read of the counters (each POST's backpressure check, the
# stats, the dashboard) would scan them all. A reader that finds more than
# MAX_BEHIND folds them itself. The ids are an identity column: max - min is an
# upper bound read from the two ends of the primary key, whatever the size.
# Each process looks at most once per CATCH_UP_INTERVAL, so that the check is
# not one more query on every request.
MAX_BEHIND = 5000
CATCH_UP_INTERVAL = 1.0
BEHIND = "SELECT coalesce(max(id) - min(id) + 1, 0) FROM tasks_statdelta"
_next_look = 0.0  # monotonic time of this process's next look

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


def catch_up() -> None:
    """Fold now if the deltas are far behind (see MAX_BEHIND); not inside a caller's transaction."""
    global _next_look
    if connection.in_atomic_block or time.monotonic() < _next_look:
        return
    _next_look = time.monotonic() + CATCH_UP_INTERVAL
    with connection.cursor() as cursor:
        cursor.execute(BEHIND)
        behind = cursor.fetchone()[0]
    if behind > MAX_BEHIND:
        run_once(timezone.now())
