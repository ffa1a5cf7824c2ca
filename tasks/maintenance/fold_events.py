"""Fold the event log into the Prometheus counters and histograms.

Reads the log after its cursor in commit-safe order (tasks/events.py), adds the
counts to MetricCount and moves the cursor, in one statement, so each event is
counted exactly once however many workers run this. Pruning keeps every event
the fold has not reached.
"""

from datetime import datetime

from tasks.events import HORIZON
from tasks.maintenance.batches import in_batches
from tasks.metrics import AGGREGATE, FOLD_CURSOR, bounds

BATCH = 5000

FOLD = f"""
WITH cur AS ({FOLD_CURSOR}),
batch AS MATERIALIZED (
    SELECT e.* FROM tasks_event e, cur
    WHERE (e.xid, e.id) > (cur.xid, cur.id) AND e.xid < {HORIZON}
    ORDER BY e.xid, e.id LIMIT %(limit)s
), counted AS (
    INSERT INTO tasks_metriccount (queue, type, name, le, count, sum)
    SELECT * FROM ({AGGREGATE.format(source="batch")}) a ORDER BY 1, 2, 3, 4
    ON CONFLICT (queue, type, name, le) DO UPDATE
    SET count = tasks_metriccount.count + excluded.count, sum = tasks_metriccount.sum + excluded.sum
), moved AS (
    INSERT INTO tasks_eventcursor (name, xid, event_id)
    SELECT 'metrics', xid, id FROM batch ORDER BY xid DESC, id DESC LIMIT 1
    ON CONFLICT (name) DO UPDATE SET xid = excluded.xid, event_id = excluded.event_id
)
SELECT count(*) FROM batch
"""


def run_once(now: datetime) -> int:
    """Fold every final event not folded yet; returns how many log rows."""

    def fold(cursor) -> int:
        cursor.execute(FOLD, {"limit": BATCH, "bounds": bounds()})
        return cursor.fetchone()[0]

    return in_batches("fold_events", fold, BATCH)
