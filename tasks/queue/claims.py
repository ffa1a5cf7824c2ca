"""The worker's statements: claim a batch, record outcomes in batches, promote
due tasks, hand back what was not started.

Raw SQL, because the ORM cannot say each of them in one statement; each runs
as its own short transaction on a worker's connection.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from tasks import conf
from tasks.exceptions import WorkerShutdown, untraced
from tasks.jobs import Failure, Job, Outcome
from tasks.models import TaskStatus
from tasks.queue import retry_policy

# RETURNING gives each job what its slot needs, down to created_at: a Python
# task's TaskResult is built from it rather than from a read of the row per task.
# The CTE is MATERIALIZED so that LIMIT and FOR NO KEY UPDATE SKIP LOCKED apply
# once, before the UPDATE; inlined, the planner may re-evaluate it per row and
# claim more or fewer rows than asked. One LATERAL probe per queue walks the
# partial index task_claim_idx (queue, priority DESC, run_at, id) in order, so
# the cost does not grow with finished or other queues' rows; the outer ORDER BY
# merges the queues by priority. NO KEY UPDATE, not UPDATE: webhook deliveries
# reference tasks by foreign key, and their inserts take KEY SHARE locks, which
# NO KEY UPDATE does not block.
_CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT c.id
    FROM ({queues}) AS q(name)
    CROSS JOIN LATERAL (
        SELECT t.id, t.priority, t.run_at
        FROM tasks_task t
        WHERE t.status = 'pending' AND t.queue = q.name
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT %(limit)s
        FOR NO KEY UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(limit)s
)
UPDATE tasks_task t
SET status = 'processing', worker_id = %(worker)s, attempt = t.attempt + 1,
    started_at = now(), updated_at = now()
FROM picked
WHERE t.id = picked.id
RETURNING t.id, t.type, t.payload, t.queue, t.priority, t.attempt, t.retry_count,
          t.max_retries, t.timeout, t.run_at, t.retry_backoff, t.created_at
"""
# What a worker holds that it does not know of (few rows: task_status_idx).
HELD = """
SELECT t.id, t.type, t.payload, t.queue, t.priority, t.attempt, t.retry_count,
       t.max_retries, t.timeout, t.run_at, t.retry_backoff, t.created_at
FROM tasks_task t
WHERE t.status = 'processing' AND t.worker_id = %(worker)s AND t.id <> ALL(%(known)s::uuid[])
"""
_NOT_PAUSED = "NOT EXISTS (SELECT 1 FROM tasks_queue p WHERE p.name = {name} AND p.paused)"
# Named queues, minus paused ones.
CLAIM_FROM_QUEUES = _CLAIM.format(
    queues="SELECT name FROM unnest(%(queues)s::text[]) AS n(name) WHERE "
    + _NOT_PAUSED.format(name="n.name")
)
# Every queue that has pending rows, found by a loose index scan of the claim index.
CLAIM_FROM_ALL = _CLAIM.format(
    queues="""
    WITH RECURSIVE seen(name) AS (
        (SELECT queue FROM tasks_task WHERE status = 'pending' ORDER BY queue LIMIT 1)
        UNION ALL
        SELECT (SELECT queue FROM tasks_task
                WHERE status = 'pending' AND queue > seen.name ORDER BY queue LIMIT 1)
        FROM seen WHERE seen.name IS NOT NULL
    )
    SELECT name FROM seen WHERE name IS NOT NULL AND """
    + _NOT_PAUSED.format(name="seen.name")
)
# Every queue but those under flow control (tasks/queue/flow.py claims those):
# used only while some queue has limits, so that CLAIM_FROM_ALL stays as it was.
CLAIM_FROM_ALL_EXCEPT = CLAIM_FROM_ALL.replace(
    "WHERE name IS NOT NULL AND", "WHERE name IS NOT NULL AND name <> ALL(%(skip)s::text[]) AND"
)

# Outcomes are fenced: a row changes only while this worker holds this attempt,
# so a worker that was presumed dead (and rescued) cannot overwrite the outcome
# of the attempt that replaced it. The `held` CTE narrows the rows by primary key
# alone and locks them, so the plan is a key lookup per id whatever the
# statistics say (with the status test on the table itself, the planner may pick
# the status index and wade through its dead entries), and the fence tests on
# the locked rows are current. Deliveries for webhooks are written in the same
# statement, so a completion and its notification are never separated.
# Completions travel as one JSON array of [id, attempt, result, started, finished]
# rows rather than five typed arrays: psycopg dumps array elements one by one in
# Python (about 12 us of worker CPU per outcome), json.dumps does it in C.
_HELD = """
WITH held AS MATERIALIZED (
    SELECT id, attempt, worker_id, status FROM tasks_task
    WHERE id = ANY(%(ids)s::uuid[])
    FOR NO KEY UPDATE
)"""

COMPLETE = _HELD + """, done AS (
    UPDATE tasks_task t
    SET status = 'completed', result = v.result, started_at = v.started_at,
        completed_at = v.finished_at, updated_at = now(), last_error = '',
        progress = CASE WHEN t.progress IS NULL THEN NULL ELSE 1 END
    FROM held h
    JOIN (SELECT (e->>0)::uuid AS id, (e->>1)::int AS attempt, (e->>2)::jsonb AS result,
                 to_timestamp((e->>3)::float8) AS started_at, to_timestamp((e->>4)::float8) AS finished_at
          FROM jsonb_array_elements(%(outcomes)s::jsonb) AS e) v ON v.id = h.id
    WHERE t.id = h.id AND h.attempt = v.attempt AND h.worker_id = %(worker)s
      AND h.status = 'processing'
    RETURNING t.id, t.webhook
), hooks AS (
    INSERT INTO tasks_webhookdelivery
        (task_id, event, url, status, attempts, next_attempt_at, last_error, log, created_at)
    SELECT id, 'task.completed', webhook, 'pending', 0, now(), '', '[]', now()
    FROM done WHERE webhook <> ''
)
SELECT count(*) FROM done
"""

FAIL = _HELD + """, failed AS (
    UPDATE tasks_task t
    SET status = v.status, run_at = coalesce(v.run_at, t.run_at), retry_count = v.retry_count,
        last_error = v.message, errors = t.errors || jsonb_build_array(v.error),
        started_at = coalesce(v.started_at, t.started_at), completed_at = v.completed_at,
        updated_at = now()
    FROM held h
    JOIN unnest(%(ids)s::uuid[], %(attempts)s::int[], %(workers)s::uuid[], %(statuses)s::text[],
                %(run_ats)s::timestamptz[], %(retry_counts)s::int[], %(messages)s::text[],
                %(errors)s::jsonb[], %(started)s::timestamptz[], %(completed)s::timestamptz[])
         AS v(id, attempt, worker, status, run_at, retry_count, message, error, started_at, completed_at)
         ON v.id = h.id
    WHERE t.id = h.id AND h.attempt = v.attempt AND h.worker_id = v.worker
      AND h.status = 'processing'
    RETURNING t.id, t.status, t.webhook
), hooks AS (
    INSERT INTO tasks_webhookdelivery
        (task_id, event, url, status, attempts, next_attempt_at, last_error, log, created_at)
    SELECT id, 'task.failed', webhook, 'pending', 0, now(), '', '[]', now()
    FROM failed WHERE webhook <> '' AND status = 'failed' AND %(notify_failures)s
)
SELECT count(*) FROM failed
"""

# Scheduled tasks whose time has come become runnable, oldest first; the NOTIFY
# trigger wakes workers for each promoted row's queue at commit.
PROMOTE_DUE = """
UPDATE tasks_task SET status = 'pending', updated_at = now()
WHERE id IN (
    SELECT id FROM tasks_task
    WHERE status = 'scheduled' AND run_at <= %s
    ORDER BY run_at LIMIT %s
    FOR UPDATE SKIP LOCKED
)
"""

# Claimed but never started: undo the claim, attempt included.
HAND_BACK = """
UPDATE tasks_task
SET status = 'pending', attempt = attempt - 1, started_at = NULL, updated_at = now()
WHERE id = ANY(%(ids)s::uuid[]) AND worker_id = %(worker)s AND status = 'processing'
"""


def claim(cursor, worker_id: UUID, queues: Sequence[str] | None, limit: int,
          *, skip: Sequence[str] = ()) -> list[Job]:
    """Claim up to `limit` pending tasks, best first; `queues=None` means every
    queue (but those in `skip`)."""
    params = {"worker": worker_id, "limit": limit, "queues": list(queues or ())}
    sql = CLAIM_FROM_ALL if queues is None else CLAIM_FROM_QUEUES
    if queues is None and skip:
        sql, params["skip"] = CLAIM_FROM_ALL_EXCEPT, list(skip)
    cursor.execute(sql, params, prepare=conf.get("PREPARE"))
    return _jobs(cursor.fetchall(), worker_id)


def held(cursor, worker_id: UUID, known: Iterable[UUID]) -> list[Job]:
    """Tasks the database says this worker holds, other than `known`: claimed by a
    statement that committed but whose answer never reached the worker (the
    connection broke in between). Still fenced to this worker and attempt."""
    cursor.execute(HELD, {"worker": worker_id, "known": list(known)})
    return _jobs(cursor.fetchall(), worker_id)


def _jobs(rows, worker_id: UUID) -> list[Job]:
    """Claimed rows (as CLAIM and HELD return them) as jobs, best first."""
    default_timeout = conf.get("DEFAULT_TIMEOUT")
    return [
        Job(
            id=row[0], type=row[1], payload_json=row[2], queue=row[3], priority=row[4],
            attempt=row[5], retry_count=row[6], max_retries=row[7],
            timeout=row[8] or default_timeout, worker_id=worker_id, retry_backoff=row[10],
            created_at=row[11].timestamp(), run_at=row[9].timestamp(),
        )
        for row in sorted(rows, key=lambda r: (-r[4], r[9], r[0]))
    ]


def complete(cursor, worker_id: UUID, outcomes: Sequence[Outcome]) -> int:
    """Record successful outcomes in one statement; returns how many still held their claim."""
    if not outcomes:
        return 0
    cursor.execute(COMPLETE, complete_params(worker_id, outcomes), prepare=conf.get("PREPARE"))
    return cursor.fetchone()[0]


def complete_params(worker_id: UUID, outcomes: Sequence[Outcome]) -> dict:
    """COMPLETE's parameters: the outcomes as one JSON document (cheaper to send than typed arrays)."""
    rows = [[str(o.id), o.attempt, o.result_json, o.started_at, o.finished_at] for o in outcomes]
    return {"worker": worker_id, "ids": "{%s}" % ",".join(row[0] for row in rows), "outcomes": json.dumps(rows)}


def failure(job: Job, error: dict, now: datetime, *, started_at=None, worker_id=None) -> Failure:
    """Apply the retry policy to a failed attempt of `job`."""
    run_at = retry_policy.next_run_at(job.retry_count, job.max_retries, now, base=job.retry_backoff)
    entry = {"attempt": job.attempt, "worker": str(worker_id or job.worker_id), "at": now.isoformat(), **error}
    if run_at is None:
        return Failure(job, worker_id or job.worker_id, TaskStatus.FAILED, None, job.retry_count,
                       entry, started_at, now)
    return Failure(job, worker_id or job.worker_id, TaskStatus.SCHEDULED, run_at, job.retry_count + 1,
                   entry, started_at, None)


def interrupted(job: Job, now: datetime) -> Failure:
    """A started attempt cut short by shutdown: back to pending, no retry used."""
    entry = {
        "attempt": job.attempt, "worker": str(job.worker_id), "at": now.isoformat(),
        **untraced(WorkerShutdown, "The worker shut down before the task finished; it will run again."),
    }
    return Failure(job, job.worker_id, TaskStatus.PENDING, now, job.retry_count, entry, None, None)


def fail(cursor, failures: Sequence[Failure]) -> int:
    """Record failed attempts in one statement; returns how many still held their claim."""
    if not failures:
        return 0
    cursor.execute(
        FAIL,
        {
            "ids": [f.job.id for f in failures],
            "attempts": [f.job.attempt for f in failures],
            "workers": [f.worker_id for f in failures],
            "statuses": [str(f.status) for f in failures],
            "run_ats": [f.run_at for f in failures],
            "retry_counts": [f.retry_count for f in failures],
            "messages": [_headline(f.error) for f in failures],
            "errors": [json.dumps(f.error) for f in failures],
            "started": [f.started_at for f in failures],
            "completed": [f.completed_at for f in failures],
            "notify_failures": conf.get("WEBHOOK_ON_FAILURE"),
        },
        prepare=conf.get("PREPARE"),
    )
    return cursor.fetchone()[0]


def promote_due(cursor, now: datetime, limit: int) -> int:
    """Make up to `limit` scheduled tasks whose run time is past pending; returns how many."""
    cursor.execute(PROMOTE_DUE, [now, limit])
    return cursor.rowcount


def hand_back(cursor, worker_id: UUID, jobs: Iterable[Job]) -> int:
    """Return claimed, unstarted tasks to pending."""
    ids = [job.id for job in jobs]
    if not ids:
        return 0
    cursor.execute(HAND_BACK, {"ids": ids, "worker": worker_id})
    return cursor.rowcount


def _headline(error: dict) -> str:
    name = error.get("type", "Error").rsplit(".", 1)[-1]
    return f"{name}: {error.get('message', '')}"
