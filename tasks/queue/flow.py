"""The claim for queues under flow control: global and per-partition concurrency,
a rate limit, ordered keys (limits.py says which queues, and their limits).

One short transaction per limited queue, never touching other queues:

1. LOCK: `SELECT ... FROM tasks_queue WHERE name = $q FOR UPDATE` serializes
   the limited claims of this one queue, across every worker. Unlimited queues
   never take it, and two limited queues never wait for each other.
2. CLAIM_LIMITED: a new statement, so (READ COMMITTED) its snapshot is taken
   after the lock and sees every claim committed before it. It counts the
   queue's running tasks from the status index (few rows: at most the fleet's
   slots), picks pending tasks best first that fit the limits, and claims them.
3. For a rate limit, the queue row's sliding log of recent claims gets this
   claim's count (and, for a per-partition rate, each partition's log its own). The log makes the limit exact: no interval of one period
   ever holds more than rate_limit starts (started_at is now(), the time of
   this transaction, as is the log's entry).

Crashed workers cannot push a queue over its limit: their tasks stay
`processing`, and so keep counting, until the rescue makes them a failed attempt.
"""

import json
from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from tasks import conf
from tasks.jobs import Job
from tasks.queue.claims import _jobs
from tasks.queue.limits import QueueLimits

# How many pending tasks a claim with partition limits looks at: partitions at
# their limit are skipped over, up to this far down the queue.
PARTITION_SCAN = 1000

# Outside the transaction, one index probe: a queue with nothing pending costs
# its workers one round trip per claim, not a transaction of four.
ANY_PENDING = "SELECT EXISTS (SELECT 1 FROM tasks_task WHERE status = 'pending' AND queue = %s)"
LOCK = """SELECT paused, rate_log::text, extract(epoch FROM now())::float8, partition_rate_log::text
FROM tasks_queue WHERE name = %s FOR UPDATE"""

# The candidates are not locked: the queue lock already keeps other limited
# claims out, and the UPDATE re-checks `status = 'pending'` on each row it
# takes (a row cancelled meanwhile is skipped), so locking the whole scan would
# only dirty pages. A task without a partition counts only against max_running.
# Ordered queues: a task whose key has an earlier unfinished task (pending,
# processing or scheduled for a retry) waits; task_ordering_idx answers that.
CLAIM_LIMITED = """
WITH running AS MATERIALIZED (
    SELECT coalesce(t.partition_key, t.payload #>> %(path)s::text[]) AS part
    FROM tasks_task t
    WHERE t.status = 'processing' AND t.queue = %(queue)s
), candidates AS MATERIALIZED (
    SELECT t.id, t.priority, t.run_at, coalesce(t.partition_key, t.payload #>> %(path)s::text[]) AS part
    FROM tasks_task t
    WHERE t.status = 'pending' AND t.queue = %(queue)s
      AND (NOT %(ordered)s OR t.ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM tasks_task e
          WHERE e.queue = t.queue AND e.ordering_key = t.ordering_key AND e.id < t.id
            AND e.status IN ('waiting', 'scheduled', 'pending', 'processing')))
    ORDER BY t.priority DESC, t.run_at, t.id
    LIMIT %(scan)s
), busy AS (
    SELECT part, count(*) AS n FROM running WHERE part IS NOT NULL GROUP BY part
), ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.part ORDER BY c.priority DESC, c.run_at, c.id) AS nth,
           coalesce(b.n, 0) AS busy
    FROM candidates c LEFT JOIN busy b ON b.part = c.part
), picked AS MATERIALIZED (
    SELECT r.id FROM ranked r
    WHERE r.part IS NULL OR (
        (%(part_max)s::int IS NULL OR r.nth + r.busy <= %(part_max)s::int)
        -- Per-partition rate: the room left in each partition's window (absent: all of it).
        AND (%(part_rate)s::int IS NULL
             OR r.nth <= coalesce((%(rooms)s::jsonb ->> r.part)::int, %(part_rate)s::int)))
    ORDER BY r.priority DESC, r.run_at, r.id
    LIMIT greatest(0, least(%(limit)s::int, %(max_running)s::int - (SELECT count(*) FROM running)))
)
UPDATE tasks_task t
SET status = 'processing', worker_id = %(worker)s, attempt = t.attempt + 1,
    started_at = now(), updated_at = now()
FROM picked
WHERE t.id = picked.id AND t.status = 'pending'
RETURNING t.id, t.type, t.payload, t.queue, t.priority, t.attempt, t.retry_count,
          t.max_retries, t.timeout, t.run_at, t.retry_backoff, t.created_at,
          coalesce(t.partition_key, t.payload #>> %(path)s::text[])
"""

SAVE_RATE_LOG = "UPDATE tasks_queue SET rate_log = %s::jsonb, partition_rate_log = %s::jsonb WHERE name = %s"


@dataclass
class Claimed:
    jobs: list[Job]
    # Seconds until the rate limit lets this queue start more; None: not rate-bound.
    opens_in: float | None = None


def claim_limited(cursor, worker_id: UUID, limits: QueueLimits, limit: int, *, probe: bool = True) -> Claimed:
    """Claim up to `limit` tasks of one limited queue, within its limits; `probe`
    first checks, outside the transaction, that anything is pending at all."""
    if probe:
        cursor.execute(ANY_PENDING, [limits.name], prepare=conf.get("PREPARE"))
        if not cursor.fetchone()[0]:
            return Claimed([])
    prepare = conf.get("PREPARE")  # off behind a pooler that cannot keep prepared statements
    with cursor.connection.transaction():
        cursor.execute(LOCK, [limits.name], prepare=prepare)
        row = cursor.fetchone()
        if row is None or row[0]:  # no settings row (yet), or paused
            return Claimed([])
        # As text: Django's connection loads no jsonb.
        log, now, logs = json.loads(row[1] or "[]") or [], row[2], json.loads(row[3] or "{}") or {}
        period, room = limits.rate_period, None
        if limits.rate_limit:
            log, room, opens_at = rate_window(log, now, limits.rate_limit, period)
            if room <= 0:
                return Claimed([], opens_at - now if opens_at is not None else None)
            limit = min(limit, room)
        rooms, opens = {}, []
        if limits.partition_rate_limit:
            for part in list(logs):
                logs[part], rooms[part], opens_at = rate_window(logs[part], now, limits.partition_rate_limit, period)
                if not logs[part]:
                    del logs[part]
                if opens_at is not None:
                    opens.append(opens_at - now)
        cursor.execute(CLAIM_LIMITED, {
            "queue": limits.name, "worker": worker_id, "limit": limit,
            "max_running": limits.max_running, "part_max": limits.partition_max_running,
            "path": limits.partition_path, "ordered": limits.ordered,
            "part_rate": limits.partition_rate_limit, "rooms": json.dumps(rooms),
            "scan": PARTITION_SCAN if limits.partition_max_running or limits.partition_rate_limit else limit,
        }, prepare=prepare)
        rows = cursor.fetchall()
        jobs = _jobs(rows, worker_id)
        if jobs and (limits.rate_limit or limits.partition_rate_limit):
            if limits.rate_limit:
                log = recorded(log, now, len(jobs), period)
                if len(jobs) >= limit == room:  # this claim filled the window: say when it opens
                    opens.append(log[0][0] + period - now)
            if limits.partition_rate_limit:
                for part, count in Counter(row[12] for row in rows if row[12] is not None).items():
                    logs[part] = recorded(logs.get(part, []), now, count, period)
            cursor.execute(SAVE_RATE_LOG, [json.dumps(log), json.dumps(logs), limits.name], prepare=prepare)
    # The window is full, or some partition waits on its rate: look again when the first
    # one opens (without this, a worker whose claim filled the window learnt of the
    # reopening only at its next poll, and a minute at 50 per 5 s started 9.17/s, not 10).
    return Claimed(jobs, min(opens) if opens else None)


def rate_window(log: list, now: float, rate: int, period: float) -> tuple[list, int, float | None]:
    """The claims of `log` still inside the period ending at `now`, how many more
    may start now, and (when none may) the time the oldest leaves the window."""
    kept = [entry for entry in log if entry[0] > now - period]
    room = rate - sum(entry[1] for entry in kept)
    opens_at = kept[0][0] + period if room <= 0 and kept else None
    return kept, room, opens_at


def recorded(log: list, now: float, count: int, period: float) -> list:
    """`log` with `count` starts at `now`. A claim within a hundredth of the period
    of the previous entry's first claim joins it, at the later time: the log stays at
    about a hundred entries per period, and an entry only ever leaves the window later
    than its claims would have (never early: the limit still holds), by at most a
    hundredth of the period. An entry is [latest, count, first] once it has joined
    claims; measured from the latest instead, a steady stream of claims each close to
    the last chained into one entry as long as a burst, and held the window closed
    that much longer every period (a minute at 50 per 5 s started 9.17/s, not 10)."""
    if log:
        latest, total, *first = log[-1]
        first = first[0] if first else latest
        if now - first < period / 100:
            return [*log[:-1], [now, total + count, first]]
    return [*log, [now, count]]
