#!/usr/bin/env python
"""How the dashboard and the admin answer over a million tasks.

    DATABASE_URL=postgresql://127.0.0.1:5432/<a scratch database> \\
        .venv/bin/python scripts/dashboard_scale.py [--rows 1000000] [--keep]

Inserts ROWS tasks (90% completed, 5% failed, 3% pending, 1% scheduled, 1%
cancelled, spread over the last 7 days, time-ordered ids as the app makes
them), runs ANALYZE, then times each page through Django's test client as a
signed-in staff user: best of 5, in milliseconds. Deletes what it inserted
unless --keep. The numbers go in docs/dashboard-scale.md; they depend on the
machine, so no test asserts them.
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
from django.utils import timezone  # noqa: E402

from tasks.maintenance import fold_stats  # noqa: E402

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


def timed(client: Client, path: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        best = min(best, time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_task WHERE queue LIKE %s", [MARK + "-%"])
        if cursor.fetchone()[0] != args.rows:  # a --keep run left exactly these rows: reuse them
            cursor.execute("DELETE FROM tasks_task WHERE queue LIKE %s", [MARK + "-%"])
            cursor.execute(INSERT, {"rows": args.rows, "mark": MARK})
        cursor.execute("ANALYZE tasks_task")
    fold_stats.run_once(timezone.now())
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

    pages = [
        ("overview", "/dashboard/"),
        ("tasks, first page", "/dashboard/tasks/"),
        ("tasks, a page in the middle (after=)", f"/dashboard/tasks/?after={middle}"),
        ("tasks, status=failed", "/dashboard/tasks/?status=failed"),
        ("tasks, status=failed, the oldest page", f"/dashboard/tasks/?status=failed&before={oldest_failed}"),
        ("tasks, type=email", "/dashboard/tasks/?type=email"),
        ("tasks, queue + priority", f"/dashboard/tasks/?queue={MARK}-reports&priority=5"),
        ("tasks, search a task id", f"/dashboard/tasks/?q={middle}"),
        ("tasks, search common text", "/dashboard/tasks/?q=timed+out"),
        ("tasks, search text no task has", "/dashboard/tasks/?q=no-such-text-anywhere"),
        ("tasks, type no task has", "/dashboard/tasks/?type=fail"),
        ("task detail", f"/dashboard/tasks/{middle}/"),
        ("queues", "/dashboard/queues/"),
        ("workers", "/dashboard/workers/"),
        ("dead letters", "/dashboard/dead-letters/"),
        ("admin: task list", "/admin/tasks/task/"),
        ("admin: task list, status=failed", "/admin/tasks/task/?status__exact=failed"),
        ("admin: task list, by day (date hierarchy)", "/admin/tasks/task/?created_at__year=%d" % timezone.now().year),
    ]
    print(f"\n| page ({args.rows:,} tasks) | best of 5, ms |\n| --- | ---: |")
    for name, path in pages:
        print(f"| {name} | {timed(client, path):.0f} |")

    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks_task WHERE queue LIKE %s", [MARK + "-%"])
        fold_stats.run_once(timezone.now())
        print("\ndeleted the inserted tasks")


if __name__ == "__main__":
    main()
