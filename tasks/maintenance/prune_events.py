"""Delete event-log rows past QUEUE_EVENT_RETENTION, once both folds (metrics,
history) have counted them, and forget event streams whose web process went away."""

from datetime import datetime, timedelta

from django.db import connection

from tasks import conf
from tasks.db import in_batches

BATCH = 5000

# The position both folds (Prometheus counters, metrics over time) have passed;
# a fold that has not run yet holds pruning back.
FOLDED_BY_BOTH = """
SELECT coalesce(c.xid, 0) AS xid, coalesce(c.event_id, 0) AS id
FROM (VALUES ('metrics'), ('history')) AS f(name)
LEFT JOIN tasks_eventcursor c ON c.name = f.name
ORDER BY 1, 2 LIMIT 1
"""

# Oldest first along the primary key (ids grow with time), so each batch stops early.
DELETE_OLD = f"""
WITH cur AS ({FOLDED_BY_BOTH})
DELETE FROM tasks_event WHERE id IN (
    SELECT e.id FROM tasks_event e, cur
    WHERE e.at < %(before)s AND (e.xid, e.id) <= (cur.xid, cur.id)
    ORDER BY e.id LIMIT %(limit)s
)
"""
DELETE_STREAMS = "DELETE FROM tasks_eventstream WHERE expires_at < %s"
COUNT_OLD = "SELECT count(*) FROM tasks_event WHERE at < %s"


def expired(now: datetime) -> int:
    """How many log rows are past retention (run_once deletes those the fold has counted)."""
    with connection.cursor() as cursor:
        cursor.execute(COUNT_OLD, [_cutoff(now)])
        return cursor.fetchone()[0]


def run_once(now: datetime) -> int:
    """Delete expired events; returns how many rows."""
    before = _cutoff(now)

    def delete(cursor) -> int:
        cursor.execute(DELETE_OLD, {"before": before, "limit": BATCH})
        deleted = cursor.rowcount
        if deleted < BATCH:
            cursor.execute(DELETE_STREAMS, [now])
        return deleted

    return in_batches("prune_events", delete, BATCH)


def _cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=conf.get("EVENT_RETENTION"))
