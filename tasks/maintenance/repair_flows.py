"""Repair workflows and batches that a drifted count left waiting (a safety net:
progress is made by the trigger, in the transaction that finishes a task)."""

from datetime import datetime, timedelta

from django.db import transaction

from tasks.db import raw_cursor, try_lock
from tasks.queue import batches, workflows

# Only rows untouched this long: a younger one may belong to a transaction in flight.
SETTLED = timedelta(seconds=60)


def run_once(now: datetime) -> int:
    """Release stuck waiting tasks and finish stuck batches; returns how many tasks were released."""
    with transaction.atomic():
        if not try_lock("repair_flows"):
            return 0
        with raw_cursor() as cursor:
            released = workflows.release_stuck(cursor, now - SETTLED)
            batches.finish_stuck(cursor)
    return released
