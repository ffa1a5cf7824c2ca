"""What a queue's flow-control limits allow now, and how much of them is used,
as /api/queues, the dashboard and /metrics show it."""

from datetime import datetime

from tasks.models import Queue, TaskStatus
from tasks.queue.flow import rate_window
from tasks.queue.limits import configured as limits_settings
from tasks.queue.limits import merge


def state(name: str, row: Queue | None, counts: dict[str, int], now: datetime) -> dict | None:
    """The limits in force and their use; None when the queue has no limits."""
    configured = limits_settings().get(name)
    row_values = None if row is None else {
        "max_running": row.max_running, "partition_by": row.partition_by,
        "partition_max_running": row.partition_max_running, "rate_limit": row.rate_limit,
        "rate_period": row.rate_period, "ordered": row.ordered, "partition_rate_limit": row.partition_rate_limit,
    }
    limits = merge(name, row_values, configured)
    if not limits.active and not limits.partition_by:
        return None
    running, pending = counts.get(TaskStatus.PROCESSING, 0), counts.get(TaskStatus.PENDING, 0)
    rate_used, full = 0, False
    if limits.rate_limit:
        kept, room, _ = rate_window((row.rate_log if row else None) or [], now.timestamp(),
                                    limits.rate_limit, limits.rate_period)
        rate_used, full = sum(entry[1] for entry in kept), room <= 0
    at_limit = full or bool(limits.max_running and running >= limits.max_running)
    return {
        "max_running": limits.max_running,
        "running": running,
        "partition_by": limits.partition_by,
        "partition_max_running": limits.partition_max_running,
        "rate_limit": limits.rate_limit,
        "partition_rate_limit": limits.partition_rate_limit,
        "rate_period": limits.rate_period if limits.rate_limit or limits.partition_rate_limit else None,
        "rate_used": rate_used,
        "ordered": limits.ordered,
        # Pending tasks held back because the queue is at its concurrency or rate limit.
        "waiting_on_limit": pending if at_limit else 0,
    }
