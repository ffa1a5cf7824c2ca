"""Promote scheduled tasks whose time has come to pending."""

from datetime import datetime

from tasks import queue
from tasks.db import in_batches

BATCH = 5000


def run_once(now: datetime) -> int:
    """Move due scheduled tasks to pending; returns how many."""
    return in_batches("promote", lambda cursor: queue.promote_due(cursor, now, BATCH), BATCH)
