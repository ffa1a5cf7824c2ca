"""Backpressure: refuse new tasks for a queue that already holds too many pending.

The limit is the queue's own `Queue.max_pending`, else QUEUE_MAX_PENDING
(0: no limit). Depth is read from the trigger-maintained counters (see
tasks/models/stats.py), never by counting the task table, so the check costs
the same at any depth. It is a soft limit: requests checked at the same
moment may together overshoot it by their own size.
"""

from collections import Counter
from collections.abc import Iterable

from django.db import connection

from tasks import conf
from tasks.maintenance import fold_stats
from tasks.exceptions import QueueFull

# Per named queue: its limit (own or default) and its pending depth, folded
# counts plus the deltas not folded yet. One round trip for any number of queues.
DEPTHS = """
SELECT q.name, coalesce(s.max_pending, %(default)s),
       (SELECT coalesce(sum(n), 0) FROM (
            SELECT count AS n FROM tasks_statcount c WHERE c.queue = q.name AND c.status = 'pending'
            UNION ALL
            SELECT delta FROM tasks_statdelta d WHERE d.queue = q.name AND d.status = 'pending'
        ) depth)::bigint
FROM unnest(%(queues)s::text[]) AS q(name)
LEFT JOIN tasks_queue s ON s.name = q.name
"""


def pending_depths(queues: Iterable[str]) -> dict[str, tuple[int, int]]:
    """{queue: (pending depth, limit)}; a limit of 0 means none."""
    fold_stats.catch_up()
    with connection.cursor() as cursor:
        cursor.execute(DEPTHS, {"queues": sorted(set(queues)), "default": conf.get("MAX_PENDING")})
        return {name: (depth, limit) for name, limit, depth in cursor.fetchall()}


def check(queues: Iterable[str]) -> None:
    """Raise QueueFull if adding one task per item of `queues` would pass a queue's limit."""
    adding = Counter(queues)
    for name, (depth, limit) in pending_depths(adding).items():
        if limit and depth + adding[name] > limit:
            raise QueueFull(
                f"Queue {name!r} holds {depth} pending tasks and accepts at most {limit}; "
                f"nothing was written. Retry later, when workers have caught up."
            )
