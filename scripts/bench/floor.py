"""The floor: what PostgreSQL allows here, with no queue code in the way.

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
