"""Backpressure: refuse new tasks for a queue that already holds too many pending.

The limit is the queue's own `Queue.max_pending`, else QUEUE_MAX_PENDING
(0: no limit). Depth is read from the trigger-maintained counters
(tasks/telemetry/counters.py), never by counting the task table, so the check
costs the same at any depth. It is a soft limit: requests checked at the same
moment may together overshoot it by their own size.
"""

from collections import Counter
from collections.abc import Iterable

from tasks import conf
from tasks.exceptions import QueueFull
from tasks.telemetry import counters


def check(queues: Iterable[str]) -> None:
    """Raise QueueFull if adding one task per item of `queues` would pass a queue's limit."""
    adding = Counter(queues)
    for name, (depth, limit) in counters.pending_depths(adding, conf.get("MAX_PENDING")).items():
        if limit and depth + adding[name] > limit:
            raise QueueFull(
                f"Queue {name!r} holds {depth} pending tasks and accepts at most {limit}; "
                f"nothing was written. Retry later, when workers have caught up."
            )
