"""The floors: what PostgreSQL allows here, with no queue code in the way.

A plain psycopg loop claims and completes rows of a table equivalent to the
task table: the same columns, indexes, storage settings and statement-level
triggers (`LIKE tasks_task INCLUDING ALL` plus the counters' triggers). Like
the worker, it claims with `FOR NO KEY UPDATE SKIP LOCKED` along the partial
index and records outcomes in a second statement; each statement is its own
transaction (autocommit) and is prepared. Batches of 1 and of 100.
"""

import time
import uuid

import psycopg
from psycopg.types.json import Jsonb

from scripts.bench.util import say

TABLE = "bench_floor"

CREATE = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (LIKE tasks_task INCLUDING ALL);
ALTER TABLE {TABLE} SET (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 1);
CREATE TRIGGER after_insert AFTER INSERT ON {TABLE} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_insert();
CREATE TRIGGER after_update AFTER UPDATE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_update();
"""

FILL = f"""
INSERT INTO {TABLE} (id, type, payload, queue, priority, status, run_at, max_retries, retry_count,
    attempt, webhook, last_error, errors, progress_message, created_at, updated_at)
SELECT gen_random_uuid(), 'echo', NULL, 'floor', 0, 'pending', now(), 3, 0, 0, '', '', '[]', '', now(), now()
FROM generate_series(1, %(n)s)
"""

CLAIM = f"""
WITH picked AS MATERIALIZED (
    SELECT id FROM {TABLE}
    WHERE status = 'pending' AND queue = 'floor'
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE {TABLE} t
SET status = 'processing', worker_id = %(worker)s, attempt = t.attempt + 1,
    started_at = now(), updated_at = now()
FROM picked WHERE t.id = picked.id
RETURNING t.id, t.attempt
"""

COMPLETE = f"""
UPDATE {TABLE}
SET status = 'completed', result = 'null', completed_at = now(), updated_at = now()
WHERE id = ANY(%(ids)s) AND worker_id = %(worker)s AND status = 'processing'
"""


def floor(url: str, n: int, batch: int) -> float:
    """Claim and complete `n` rows `batch` at a time; returns rows per second."""
    worker = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE)
        conn.execute(FILL, {"n": n})
        conn.execute(f"VACUUM ANALYZE {TABLE}")
        cursor = conn.cursor()
        done = 0
        started = time.perf_counter()
        while True:
            cursor.execute(CLAIM, {"limit": batch, "worker": worker}, prepare=True)
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            cursor.execute(COMPLETE, {"ids": ids, "worker": worker}, prepare=True)
            done += cursor.rowcount
        seconds = time.perf_counter() - started
        conn.execute(f"DROP TABLE {TABLE}")
    if done != n:
        raise SystemExit(f"bench: the floor loop completed {done} of {n} rows")
    say(f"  floor, batches of {batch}: {n / seconds:,.0f} rows/s ({seconds:.2f} s for {n})")
    return n / seconds


# The enqueue floors: what PostgreSQL takes for an INSERT with no queue in the
# way, on the lean table of a minimal SKIP LOCKED queue (eight columns, one
# partial index, no triggers): one job per INSERT and commit, and a thousand
# per transaction through executemany (psycopg pipelines it).
LEAN = "bench_jobs"
CREATE_LEAN = f"""
DROP TABLE IF EXISTS {LEAN};
CREATE TABLE {LEAN} (
    id bigserial PRIMARY KEY, priority int NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'ready', payload jsonb NOT NULL, attempts int NOT NULL DEFAULT 0,
    started_at timestamptz, finished_at timestamptz
);
CREATE INDEX ON {LEAN} (priority DESC, run_at) WHERE status = 'ready';
"""
INSERT_LEAN = f"INSERT INTO {LEAN} (payload) VALUES (%s) RETURNING id"


def insert_floor(url: str, n: int) -> float:
    """INSERTs per second, each its own transaction (autocommit, prepared)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE_LEAN)
        started = time.perf_counter()
        for i in range(n):
            conn.execute(INSERT_LEAN, (Jsonb({"n": i}),), prepare=True).fetchone()
        rate = n / (time.perf_counter() - started)
        conn.execute(f"DROP TABLE {LEAN}")
    say(f"  floor, INSERT + commit one at a time: {rate:,.0f} rows/s")
    return rate


def bulk_floor(url: str, n: int, chunk: int) -> float:
    """Rows per second inserted `chunk` per transaction with executemany."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE_LEAN)
        cursor = conn.cursor()
        started = time.perf_counter()
        for start in range(0, n, chunk):
            with conn.transaction():
                cursor.executemany(INSERT_LEAN.replace(" RETURNING id", ""),
                                   [(Jsonb({"n": i}),) for i in range(start, min(start + chunk, n))])
        rate = n / (time.perf_counter() - started)
        conn.execute(f"DROP TABLE {LEAN}")
    say(f"  floor, executemany of {chunk:,} per transaction: {rate:,.0f} rows/s")
    return rate
