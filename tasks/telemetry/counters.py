"""The status counters, read and folded; the one place that knows their tables.

Triggers on the task table append one delta row per statement and status
(StatDelta: insert-only, so concurrent workers never wait on each other).
Housekeeping folds the deltas every second into totals per queue and status
(StatCount) and completions and failures per minute (StatMinute). Every
reader adds the deltas not folded yet, so what it reads is exact, and none
of it counts the task table, so it costs the same at any size.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction

from tasks import conf, replica
from tasks.db import raw_cursor, try_lock

COUNTS = """
SELECT queue, status, sum(n)::bigint FROM (
    SELECT queue, status, count AS n FROM tasks_statcount
    UNION ALL
    SELECT queue, status, delta FROM tasks_statdelta
) s GROUP BY queue, status HAVING sum(n) <> 0
"""

# Completed and failed per minute and queue, folded or not yet folded.
PER_MINUTE = """
SELECT bucket, queue, status, sum(n)::bigint FROM (
    SELECT bucket, queue, status, count AS n FROM tasks_statminute
    WHERE bucket >= %(since)s AND status IN ('completed', 'failed')
    UNION ALL
    SELECT bucket, queue, status, delta FROM tasks_statdelta
    WHERE delta > 0 AND status IN ('completed', 'failed') AND bucket >= %(since)s
) s GROUP BY bucket, queue, status
"""

# Per named queue: its limit (own or default) and, when it has one, its pending
# depth (0 otherwise: without a limit nobody needs it, and summing the deltas
# not folded yet is most of the statement's cost). One round trip for any
# number of queues (backpressure checks a whole batch at once).
DEPTHS = """
SELECT q.name, l.max_pending,
       CASE WHEN l.max_pending > 0 THEN (SELECT coalesce(sum(n), 0) FROM (
            SELECT count AS n FROM tasks_statcount c WHERE c.queue = q.name AND c.status = 'pending'
            UNION ALL
            SELECT delta FROM tasks_statdelta d WHERE d.queue = q.name AND d.status = 'pending'
        ) depth) ELSE 0 END::bigint
FROM unnest(%(queues)s::text[]) AS q(name)
LEFT JOIN tasks_queue s ON s.name = q.name
CROSS JOIN LATERAL (SELECT coalesce(s.max_pending, %(default)s) AS max_pending) l
"""

# Since when the queue's longest-waiting pending task has waited: the later of
# its creation and its run_at (a task created with a past scheduled_for waits
# from its creation, not from that time). First, one probe of the claim index
# per distinct priority (at most 201) instead of a scan of every pending row:
# the first row of each priority in claim order, and when it became runnable.
# Usually that row's run_at is that moment, and so the answer. Only when some
# first row was created after its run_at can another row, later in claim
# order, have waited longer: EARLIER_RUNNABLE then reads the rows runnable
# before the best moment found (few: those the index range holds), in a
# second statement so that the usual case keeps the first one's small plan
# (one statement with both had a cost estimate high enough to switch on JIT
# compilation: 9 ms instead of 0.6).
OLDEST_PENDING = """
WITH RECURSIVE p(priority, run_at, since) AS (
    (SELECT priority, run_at, greatest(created_at, run_at) FROM tasks_task
     WHERE status = 'pending' AND queue = %(queue)s ORDER BY priority DESC, run_at LIMIT 1)
    UNION ALL
    SELECT n.priority, n.run_at, n.since FROM p CROSS JOIN LATERAL (
        SELECT priority, run_at, greatest(created_at, run_at) AS since FROM tasks_task
        WHERE status = 'pending' AND queue = %(queue)s AND priority < p.priority
        ORDER BY priority DESC, run_at LIMIT 1
    ) n
)
SELECT min(since), bool_or(since > run_at), array_agg(priority) FILTER (WHERE run_at < since) FROM p
"""
EARLIER_RUNNABLE = """
SELECT min(greatest(created_at, run_at)) FROM tasks_task
WHERE status = 'pending' AND queue = %(queue)s AND priority = ANY(%(priorities)s) AND run_at < %(before)s
"""

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

# Workers fold every second, but with no worker running housekeeping (all
# stopped while producers go on) the deltas pile up, and every read of the
# counters would scan them all. A reader that finds more than MAX_BEHIND folds
# them itself. The ids are an identity column: max - min is an upper bound
# read from the two ends of the primary key, whatever the size. Each process
# looks at most once per CATCH_UP_INTERVAL, so that the check is not one more
# query on every request.
MAX_BEHIND = 5000
CATCH_UP_INTERVAL = 1.0
BEHIND = "SELECT coalesce(max(id) - min(id) + 1, 0) FROM tasks_statdelta"
_next_look = 0.0  # monotonic time of this process's next look


def counts() -> dict[str, dict[str, int]]:
    """{queue: {status: count}} for every queue with tasks."""
    catch_up()
    result: dict[str, dict[str, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(COUNTS)
        for queue, status, count in cursor.fetchall():
            result[queue][status] = count
    return dict(result)


def per_minute(now: datetime, minutes: int = 60) -> list[dict]:
    """Completed and failed tasks in each of the last `minutes` minutes, oldest
    first: {"minute", "completed", "failed", "queues": {queue: {"completed", "failed"}}}."""
    current = now.replace(second=0, microsecond=0)
    since = current - timedelta(minutes=minutes - 1)
    series = {since + timedelta(minutes=i): {"completed": 0, "failed": 0, "queues": {}} for i in range(minutes)}
    catch_up()
    with connection.cursor() as cursor:
        cursor.execute(PER_MINUTE, {"since": since})
        for bucket, queue, status, count in cursor.fetchall():
            if bucket in series:
                series[bucket][status] += count
                series[bucket]["queues"].setdefault(queue, {"completed": 0, "failed": 0})[status] += count
    return [{"minute": bucket, **values} for bucket, values in series.items()]


def pending_depths(queues: Iterable[str], default_limit: int) -> dict[str, tuple[int, int]]:
    """{queue: (pending depth, limit)} for each named queue; a limit of 0 means
    none, and then the depth is not read (0)."""
    catch_up()
    # Prepared: planning this statement costs several times running it, and
    # producers run it before every insert.
    with raw_cursor() as cursor:
        cursor.execute(DEPTHS, {"queues": sorted(set(queues)), "default": default_limit}, prepare=conf.get("PREPARE"))
        return {name: (depth, limit) for name, limit, depth in cursor.fetchall()}


def oldest_pending(queue: str) -> datetime | None:
    """Since when the queue's longest-waiting pending task has waited (see OLDEST_PENDING)."""
    with connection.cursor() as cursor:
        cursor.execute(OLDEST_PENDING, {"queue": queue})
        since, doubt, priorities = cursor.fetchone()
        if doubt:
            cursor.execute(EARLIER_RUNNABLE, {"queue": queue, "priorities": priorities, "before": since})
            earlier = cursor.fetchone()[0]
            since = min(since, earlier) if earlier else since
        return since


def fold() -> int:
    """Fold every delta written so far (one process at a time); returns how many."""
    with transaction.atomic():
        if not try_lock("fold_stats"):
            return 0
        with connection.cursor() as cursor:
            cursor.execute(FOLD)
            return cursor.fetchone()[0]


def catch_up() -> None:
    """Fold now if the deltas are far behind (see MAX_BEHIND); not inside a caller's transaction."""
    global _next_look
    if connection.in_atomic_block or time.monotonic() < _next_look or replica.active():
        return  # on a replica, folding is the primary's business (and a write)
    _next_look = time.monotonic() + CATCH_UP_INTERVAL
    with connection.cursor() as cursor:
        cursor.execute(BEHIND)
        behind = cursor.fetchone()[0]
    if behind > MAX_BEHIND:
        fold()


def sum_minutes(minutes: list[dict]) -> dict[str, int]:
    """Completed and failed over `minutes` (items of per_minute)."""
    return {
        "completed": sum(m["completed"] for m in minutes),
        "failed": sum(m["failed"] for m in minutes),
    }
