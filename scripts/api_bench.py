#!/usr/bin/env python
"""Measure the REST API's read paths on a big task table (a script, not a test).

Fills the database named by DATABASE_URL with --rows tasks (default 1,000,000;
only the missing ones are added, with COPY), then prints, as Markdown:
- GET /api/stats: request time, and tasks.telemetry.summary.stats() alone;
- for each list query: request time and the EXPLAIN (ANALYZE, BUFFERS) plan of
  the statement the view runs.

    DATABASE_URL=postgresql://127.0.0.1:5432/mydb .venv/bin/python scripts/api_bench.py > report.md

Rows: 7 days of history (ids and created_at agree, as UUIDv7 makes them), 90%
completed, 4% failed, 2% cancelled, 2% pending, 1% scheduled, 1% processing,
over queues default/emails/reports and types email/echo/webhook.
"""

import argparse
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
os.environ.setdefault("QUEUE_API_RATE", "")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from tasks.access import Scope  # noqa: E402

from tasks.maintenance import fold_stats  # noqa: E402
from tasks.models import ApiKey, Task  # noqa: E402
from tasks.telemetry import summary  # noqa: E402

STATUSES = [("completed", 90), ("failed", 4), ("cancelled", 2), ("pending", 2), ("scheduled", 1), ("processing", 1)]
QUEUES = [("default", 60), ("emails", 30), ("reports", 10)]
TYPES = {"default": "echo", "emails": "email", "reports": "webhook"}


def uuid7_at(moment: datetime) -> uuid.UUID:
    millis = int(moment.timestamp() * 1000)
    rand = secrets.randbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def weighted(choices):
    population, weights = zip(*choices)
    return random.choices(population, weights=weights)[0]


def seed(rows: int) -> None:
    have = Task.objects.count()
    if have >= rows:
        print(f"<!-- {have} tasks present; nothing added -->")
        return
    now = datetime.now(UTC)
    start = now - timedelta(days=7)
    missing = rows - have
    step = timedelta(days=7) / missing
    columns = ("id", "type", "payload", "queue", "priority", "status", "run_at", "max_retries", "retry_count",
               "attempt", "webhook", "last_error", "errors", "progress_message", "created_at", "updated_at",
               "completed_at")
    began = time.monotonic()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(
        f"COPY tasks_task ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for i in range(missing):
            created = start + step * i
            status, queue = weighted(STATUSES), weighted(QUEUES)
            finished = created + timedelta(seconds=2) if status in ("completed", "failed", "cancelled") else None
            run_at = created + timedelta(days=8) if status == "scheduled" else created
            copy.write_row((
                uuid7_at(created), TYPES[queue], f'{{"n": {i}, "to": "user{i}@example.com"}}', queue,
                random.randint(-5, 5), status, run_at, 3, 3 if status == "failed" else 0, 1, "",
                "RuntimeError: boom" if status == "failed" else "", "[]", "", created, finished or created, finished,
            ))
    fold_stats.run_once(now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    print(f"<!-- added {missing} tasks in {time.monotonic() - began:.0f}s -->")


def timed(fn, repeat: int) -> tuple[float, float]:
    """(median, max) in milliseconds."""
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - began) * 1000)
    return statistics.median(runs), max(runs)


def main_statement(client: Client, url: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "tasks_task"')]
    return selects[-1]


def explain(sql: str, ordered_search: bool) -> str:
    """The plan as the view runs it (payload searches with the setting OrderedSearch makes)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if ordered_search:
            cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    seed(args.rows)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    key = ApiKey.objects.issue(user, "bench", [Scope.READ])[1]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")
    total = Task.objects.count()
    print(f"# API read paths at {total:,} tasks\n")
    print(f"PostgreSQL: {connection.cursor().connection.info.server_version}, {args.repeat} runs each, "
          "milliseconds (median / max), in-process Django test client (auth, throttle, serialisation included).\n")

    summary_ms = timed(summary.stats, args.repeat)
    request_ms = timed(lambda: client.get("/api/stats"), args.repeat)
    print("## GET /api/stats\n")
    print(f"- `tasks.telemetry.summary.stats()`: {summary_ms[0]:.2f} / {summary_ms[1]:.2f} ms")
    print(f"- `GET /api/stats` request: {request_ms[0]:.2f} / {request_ms[1]:.2f} ms\n")

    sample = Task.objects.filter(status="failed").order_by("-id").values_list("id", flat=True)[500]
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).isoformat()
    first = client.get("/api/tasks?limit=50").json()
    queries = [
        ("newest first", {}),
        ("page 2 (cursor)", "next"),
        ("oldest first", {"ordering": "created_at"}),
        ("status=failed", {"status": "failed"}),
        ("status=pending", {"status": "pending"}),
        ("status=completed&queue=reports", {"status": "completed", "queue": "reports"}),
        ("type=webhook", {"type": "webhook"}),
        ("queue=reports&priority_min=4", {"queue": "reports", "priority_min": 4}),
        ("created_after=1 day ago", {"created_after": day_ago}),
        ("created_before=6 days ago", {"created_before": six_days_ago}),
        ("search=<full id>", {"search": str(sample)}),
        ("search=<id prefix, 13 chars>", {"search": str(sample)[:13]}),
        ("search=payload text (every task matches)", {"search": "example.com"}),
        ("search=payload text (one old task matches)", {"search": "user100@"}),
        ("search=payload text (no match)", {"search": "nobody@nowhere"}),
        ("search=payload text, status=failed", {"search": "nobody@nowhere", "status": "failed"}),
        ("search=payload text, created_after=1 day ago", {"search": "nobody@nowhere", "created_after": day_ago}),
    ]
    print("## GET /api/tasks\n")
    print("| query | request ms (median / max) | statement execution |\n| --- | --- | --- |")
    plans = []
    for label, params in queries:
        url = first["next"] if params == "next" else f"/api/tasks?{urlencode(params)}"
        ms = timed(lambda: client.get(url), max(5, args.repeat // 3))
        statement = main_statement(client, url)
        plan = explain(statement, ordered_search=label.startswith("search=payload"))
        execution = plan.splitlines()[-1].replace("Execution Time: ", "")
        print(f"| `{label}` | {ms[0]:.1f} / {ms[1]:.1f} | {execution} |")
        plans.append((label, plan))
    print("\n## Plans\n")
    for label, plan in plans:
        print(f"### {label}\n\n```\n{plan}\n```\n")


if __name__ == "__main__":
    main()
