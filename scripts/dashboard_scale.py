#!/usr/bin/env python
"""How the dashboard and the admin answer over millions of tasks.

    DATABASE_URL=postgresql://127.0.0.1:5432/<a scratch database> \\
        .venv/bin/python scripts/dashboard_scale.py [--rows 10000000] [--keep] [--explain]

Inserts ROWS tasks (90% completed, 5% failed, 3% pending, 1% scheduled, 1%
cancelled, spread over the last 7 days, time-ordered ids as the app makes
them), a webhook delivery for each task with a webhook (10%), and 7 days of
metrics over time for its queues and types; runs ANALYZE, then times each
page through Django's test client as a signed-in superuser: best of 5, in
milliseconds. --explain also prints the plans of what the pages read.
Deletes what it inserted unless --keep. The numbers go in
docs/dashboard-scale.md; they depend on the machine, so no test asserts them.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from tasks.maintenance import fold_stats  # noqa: E402
from tasks.models.task_ids import short_id  # noqa: E402

MARK = "scale-test"  # every inserted row has this queue prefix, so cleanup is exact

# Time-ordered UUIDs (v7 layout: 48-bit milliseconds, version 7, variant 8) made
# in SQL, so that a million rows go in with one statement.
INSERT = """
INSERT INTO tasks_task (id, type, payload, queue, priority, status, run_at, max_retries, retry_count,
                        attempt, webhook, last_error, errors, progress_message, created_at, updated_at,
                        completed_at)
SELECT (lpad(to_hex((extract(epoch FROM x.t) * 1000)::bigint), 12, '0') || '7'
        || substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid,
       (ARRAY['echo', 'email', 'sleep', 'webhook'])[1 + mod(g, 4)],
       jsonb_build_object('n', g, 'to', 'user' || g || '@example.com'),
       %(mark)s || '-' || (ARRAY['default', 'emails', 'reports'])[1 + mod(g, 3)],
       (mod(g, 11)) - 5,
       x.status,
       CASE WHEN x.status = 'scheduled' THEN now() + interval '1 day' ELSE x.t END,
       3, CASE WHEN x.status = 'failed' THEN 3 ELSE 0 END, 1,
       CASE WHEN mod(g, 10) = 0 THEN 'https://example.com/hook' ELSE '' END,
       CASE WHEN x.status = 'failed' THEN 'ConnectionError: upstream ' || g || ' timed out' ELSE '' END,
       '[]', '', x.t, x.t,
       CASE WHEN x.status IN ('completed', 'failed', 'cancelled') THEN x.t + interval '1 second' END
FROM generate_series(1, %(rows)s) g
CROSS JOIN LATERAL (
    SELECT now() - interval '7 days' + (g::float / %(rows)s) * interval '7 days' AS t,
           CASE WHEN mod(g, 100) < 90 THEN 'completed' WHEN mod(g, 100) < 95 THEN 'failed'
                WHEN mod(g, 100) < 98 THEN 'pending' WHEN mod(g, 100) < 99 THEN 'scheduled'
                ELSE 'cancelled' END AS status
) x
"""


# One delivery per task with a webhook, delivered once (the admin's delivery list reads them).
DELIVERIES = """
INSERT INTO tasks_webhookdelivery (task_id, event, url, status, attempts, next_attempt_at, response_code,
                                   last_error, log, created_at, delivered_at)
SELECT id, 'task.completed', webhook, 'delivered', 1, completed_at, 204, '',
       jsonb_build_array(jsonb_build_object('attempt', 1, 'at', completed_at, 'status_code', 204, 'error', '',
                                            'ms', 12.5)),
       completed_at, completed_at
FROM tasks_task WHERE queue LIKE %(like)s AND webhook <> '' AND completed_at IS NOT NULL
"""

# Metrics over time for 7 days, at each resolution over its retention: per queue
# (3) and per type (4), wait and run times over 5 bins each, and failures.
HISTORY = """
INSERT INTO tasks_timingcount (resolution, start, queue, type, kind, bin, count, sum)
SELECT r.seconds, to_timestamp(floor(extract(epoch FROM now()) / r.seconds) * r.seconds - p * r.seconds),
       d.queue, d.type, k.kind, CASE WHEN k.kind = 'failed' THEN -1 ELSE b END,
       10 + mod(p * 7 + b, 13), (10 + mod(p * 7 + b, 13)) * 0.001 * power(2, b / 2.0)
FROM (VALUES (60, 120), (900, 192), (3600, 192)) AS r(seconds, periods)
CROSS JOIN LATERAL generate_series(0, r.periods - 1) AS p
CROSS JOIN (SELECT %(mark)s || '-' || q, '' FROM unnest(ARRAY['default', 'emails', 'reports']) q
            UNION ALL SELECT '', %(mark)s || '-' || t FROM unnest(ARRAY['echo', 'email', 'sleep', 'webhook']) t)
     AS d(queue, type)
CROSS JOIN (VALUES ('wait'), ('run'), ('failed')) AS k(kind)
CROSS JOIN generate_series(8, 12) AS b
WHERE k.kind <> 'failed' OR b = 8
"""
CLEAN_HISTORY = "DELETE FROM tasks_timingcount WHERE queue LIKE %(like)s OR type LIKE %(like)s"


def timed(client: Client, path: str, repeat: int = 5) -> tuple[float, float, list[dict]]:
    """The best of `repeat` requests: its time and its statements' time in ms, and its statements."""
    best, best_queries = float("inf"), []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, (path, response.status_code)
        if elapsed < best:
            best, best_queries = elapsed, queries.captured_queries
    return best * 1000, sum(float(q["time"]) for q in best_queries) * 1000, best_queries


def explain(queries: list[dict]) -> str:
    """The plan, as PostgreSQL ran it, of the page's slowest statement on the task tables."""
    candidates = [q for q in queries if "tasks_" in q["sql"] and not q["sql"].startswith(("EXPLAIN", "SAVEPOINT"))]
    if not candidates:
        return "(no statement on the task tables)"
    slowest = max(candidates, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + slowest["sql"])
        return "\n".join(row[0] for row in cursor.fetchall())


def load(rows: int) -> None:
    like = MARK + "-%"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_task WHERE queue LIKE %s", [like])
        if cursor.fetchone()[0] != rows:  # a --keep run left exactly these rows: reuse them
            cursor.execute("DELETE FROM tasks_task WHERE queue LIKE %s", [like])
            cursor.execute(INSERT, {"rows": rows, "mark": MARK})
            cursor.execute(DELIVERIES, {"like": like})
        cursor.execute(CLEAN_HISTORY, {"like": like})
        cursor.execute(HISTORY, {"mark": MARK})
        # As autovacuum leaves a table in service (visibility map set: index-only scans), and analysed.
        for table in ("tasks_task", "tasks_webhookdelivery", "tasks_timingcount"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    fold_stats.run_once(timezone.now())


def pages(ids: dict) -> list[tuple[str, str]]:
    q = f"{MARK}-reports"
    return [
        ("overview (alarms, counts, chart)", "/dashboard/"),
        ("tasks, first page", "/dashboard/tasks/"),
        ("tasks, a page in the middle (after=)", f"/dashboard/tasks/?after={ids['middle']}"),
        ("tasks, status=failed (newest failure first)", "/dashboard/tasks/?status=failed"),
        ("tasks, status=failed, sorted by creation, the oldest page",
         f"/dashboard/tasks/?status=failed&sort=-created&before={ids['oldest_failed']}"),
        ("tasks, status=scheduled (soonest first)", "/dashboard/tasks/?status=scheduled"),
        ("tasks, status=completed", "/dashboard/tasks/?status=completed"),
        ("tasks, type=email", "/dashboard/tasks/?type=email"),
        ("tasks, queue + priority", f"/dashboard/tasks/?queue={q}&priority=5"),
        ("tasks, search a task id", f"/dashboard/tasks/?q={ids['middle']}"),
        ("tasks, search a short id", f"/dashboard/tasks/?q={short_id(ids['middle'])}"),
        ("tasks, search an id prefix", f"/dashboard/tasks/?q={str(ids['middle'])[:13]}"),
        ("tasks, search common text", "/dashboard/tasks/?q=timed+out"),
        ("tasks, search text no task has (bounded walk)", "/dashboard/tasks/?q=no-such-text-anywhere"),
        ("tasks, type no task has (bounded walk)", "/dashboard/tasks/?type=fail"),
        ("task detail", f"/dashboard/tasks/{ids['middle']}/"),
        ("workers", "/dashboard/workers/"),
        ("queues", "/dashboard/queues/"),
        ("dead letters", "/dashboard/dead-letters/"),
        ("dead letters, queue filter", f"/dashboard/dead-letters/?queue={q}"),
        ("dead letters, type filter", "/dashboard/dead-letters/?type=email"),
        ("schedules", "/dashboard/schedules/"),
        ("metrics, 1 h per queue", "/dashboard/metrics/?window=1h&by=queue"),
        ("metrics, 24 h per type", "/dashboard/metrics/?window=24h&by=type"),
        ("metrics, 7 d per queue", "/dashboard/metrics/?window=7d&by=queue"),
        ("audit log", "/dashboard/audit/"),
        ("admin: task list", "/admin/tasks/task/"),
        ("admin: task list, status=failed", "/admin/tasks/task/?status__exact=failed"),
        ("admin: task list, queue filter", f"/admin/tasks/task/?queue={q}"),
        ("admin: task list, created in the last 24 hours", "/admin/tasks/task/?created=day"),
        ("admin: task list, type filter (estimated count)", "/admin/tasks/task/?type=email"),
        ("admin: task list, search a short id", f"/admin/tasks/task/?q={short_id(ids['middle'])}"),
        ("admin: task change page", f"/admin/tasks/task/{ids['middle']}/change/"),
        ("admin: webhook deliveries", "/admin/tasks/webhookdelivery/"),
        ("admin: workers", "/admin/tasks/worker/"),
        ("admin: queues", "/admin/tasks/queue/"),
        ("admin: audit log", "/admin/tasks/auditentry/"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the plan of each page's slowest statement")
    parser.add_argument("--repeat", type=int, default=5, help="requests per page; the best counts (default 5)")
    args = parser.parse_args()

    start = time.perf_counter()
    load(args.rows)
    print(f"{args.rows} tasks in place after {time.perf_counter() - start:.1f} s")

    user, _ = get_user_model().objects.get_or_create(username="scale-operator", defaults={"is_staff": True,
                                                                                          "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tasks_task ORDER BY id LIMIT 1 OFFSET %s", [args.rows // 2])
        middle = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM tasks_task WHERE status = 'failed' ORDER BY id LIMIT 1")
        oldest_failed = cursor.fetchone()[0]

    plans = []
    print(f"\n| page ({args.rows:,} tasks) | best of {args.repeat}, ms | of which SQL, ms | statements |\n"
          "| --- | ---: | ---: | ---: |")
    for name, path in pages({"middle": middle, "oldest_failed": oldest_failed}):
        ms, sql_ms, queries = timed(client, path, args.repeat)
        print(f"| {name} | {ms:.0f} | {sql_ms:.0f} | {len(queries)} |")
        if args.explain:
            plans.append((name, explain(queries)))
    for name, plan in plans:
        print(f"\n### {name}\n\n```\n{plan}\n```")

    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks_task WHERE queue LIKE %s", [MARK + "-%"])
            cursor.execute(CLEAN_HISTORY, {"like": MARK + "-%"})
        fold_stats.run_once(timezone.now())
        print("\ndeleted the inserted tasks")


if __name__ == "__main__":
    main()
