"""Promote scheduled tasks whose time has come to pending."""

from datetime import datetime

from django.db import connection, transaction

from tasks.maintenance.locks import try_lock

BATCH = 5000

# The NOTIFY trigger wakes workers for each promoted row's queue at commit.
PROMOTE_DUE = """
UPDATE tasks_task SET status = 'pending', updated_at = now()
WHERE id IN (
    SELECT id FROM tasks_task
    WHERE status = 'scheduled' AND run_at <= %s
    ORDER BY run_at LIMIT %s
    FOR UPDATE SKIP LOCKED
)
"""


def run_once(now: datetime) -> int:
    """Move due scheduled tasks to pending; returns how many."""
    total = 0
    while True:
        with transaction.atomic():
            if not try_lock("promote"):
                return total
            with connection.cursor() as cursor:
                cursor.execute(PROMOTE_DUE, [now, BATCH])
                moved = cursor.rowcount
        total += moved
        if moved < BATCH:
            return total
