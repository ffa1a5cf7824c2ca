"""Delete event-log rows past QUEUE_EVENT_RETENTION, once the metrics fold has
counted them, and forget event streams whose web process went away."""

from datetime import datetime, timedelta

from django.db import connection, transaction

from tasks import conf
from tasks.maintenance.locks import try_lock
from tasks.metrics import FOLD_CURSOR

BATCH = 5000

# Oldest first along the primary key (ids grow with time), so each batch stops early.
DELETE_OLD = f"""
WITH cur AS ({FOLD_CURSOR})
DELETE FROM tasks_event WHERE id IN (
    SELECT e.id FROM tasks_event e, cur
    WHERE e.at < %(before)s AND (e.xid, e.id) <= (cur.xid, cur.id)
    ORDER BY e.id LIMIT %(limit)s
)
"""
DELETE_STREAMS = "DELETE FROM tasks_eventstream WHERE expires_at < %s"


def run_once(now: datetime) -> int:
    """Delete expired events; returns how many rows."""
    before = now - timedelta(seconds=conf.get("EVENT_RETENTION"))
    total = 0
    while True:
        with transaction.atomic():
            if not try_lock("prune_events"):
                return total
            with connection.cursor() as cursor:
                cursor.execute(DELETE_OLD, {"before": before, "limit": BATCH})
                deleted = cursor.rowcount
                if deleted < BATCH:
                    cursor.execute(DELETE_STREAMS, [now])
        total += deleted
        if deleted < BATCH:
            return total
