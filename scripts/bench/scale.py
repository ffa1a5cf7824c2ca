"""Scale: the same reads and the claim, on an empty table and with 1,000,000
finished tasks in it. The claim walks the partial index of pending rows, the
counters come from trigger-maintained tables, and the list is a key-ordered
index scan, so none of them should notice the finished rows.
"""

import logging
import time
import uuid
from dataclasses import dataclass

from scripts.bench.util import median, say

QUEUE = "bench-scale"
FINISHED_STATUSES = ("completed", "completed", "completed", "completed", "failed", "cancelled")

# Finished rows as a week of real use would leave them: mostly completed, some
# dead letters and cancellations, spread over queues, with results and errors.
FILL = """
INSERT INTO tasks_task (id, type, payload, queue, priority, status, run_at, max_retries, retry_count,
    attempt, webhook, result, last_error, errors, progress_message, created_at, updated_at,
    started_at, completed_at)
SELECT gen_random_uuid(), 'echo', jsonb_build_object('n', g), 'q' || (g %% 4), 0,
       (ARRAY['completed','completed','completed','completed','failed','cancelled'])[1 + g %% 6],
       now() - interval '1 day', 3, 0, 1, '', jsonb_build_object('n', g), '', '[]', '',
       now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
FROM generate_series(%(start)s, %(stop)s - 1) g
"""


@dataclass
class ScaleReading:
    rows: int
    stats_ms: float
    list_ms: float
    list_filtered_ms: float
    claim_ms: float
    claim_all_ms: float
    stats_http_ms: float | None = None  # GET /api/stats, when the endpoint exists on this branch
    list_http_ms: float | None = None  # GET /api/tasks, when the endpoint exists on this branch
    # Dashboard and admin pages, signed in (docs/dashboard-scale.md has every page at 10,000,000 rows).
    dashboard_tasks_ms: float | None = None
    dashboard_dead_ms: float | None = None
    dashboard_metrics_ms: float | None = None
    admin_tasks_ms: float | None = None


def fill(start: int, stop: int, chunk: int = 250_000) -> None:
    """Add finished rows number `start` to `stop` (exclusive); fold counters, vacuum, analyse."""
    from django.db import connection

    from tasks.maintenance import fold_stats

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for first in range(start, stop, chunk):
            cursor.execute(FILL, {"start": first, "stop": min(stop, first + chunk)})
        fold_stats.run_once(None)
        cursor.execute("VACUUM ANALYZE tasks_task")
    say(f"  {stop:,} finished tasks in the table ({stop - start:,} added in {time.perf_counter() - started:.0f} s)")


def _time_rounds(calls: dict, rounds: int) -> dict[str, float]:
    """Median milliseconds of each call, measured in interleaved rounds so that a
    burst of load from elsewhere on the machine hits every call alike."""
    samples = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm: connection, plan cache, buffers
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: median(values) for name, values in samples.items()}


def _list_page(status: str | None = None):
    from tasks.api.serializers import TaskSerializer
    from tasks.models import Task

    tasks = Task.objects.all()
    if status:
        tasks = tasks.filter(status=status)
    return TaskSerializer(tasks.order_by("-id")[:50], many=True).data


def _http_get(path: str):
    """A callable that GETs `path` through Django's full stack (in process), or
    None when this branch does not serve it."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from tasks.access import Scope
    from tasks.models import ApiKey

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the probe's 404 is expected
    user, _ = get_user_model().objects.get_or_create(username="bench")
    key = ApiKey.objects.issue(user, "bench", [Scope.READ])[1]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")

    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get if client.get(path).status_code == 200 else None


def _page_get(path: str):
    """A callable that GETs a dashboard or admin page as a signed-in superuser
    (in process), or None when this branch does not serve it."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench-operator",
                                                     defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get if client.get(path).status_code == 200 else None


def measure(rows: int, rounds: int = 60) -> ScaleReading:
    """Median latencies of the stats summary, list pages, and claims of 10."""
    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.telemetry import summary

    queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(rounds * 20 + 40)])
    worker = uuid.uuid4()
    calls = {
        "stats_ms": summary.stats,
        "list_ms": _list_page,
        "list_filtered_ms": lambda: _list_page("failed"),
        "claim_ms": lambda: queue.claim(raw_cursor(), worker, [QUEUE], 10),
        "claim_all_ms": lambda: queue.claim(raw_cursor(), worker, None, 10),
    }
    for field, path in (("stats_http_ms", "/api/stats"), ("list_http_ms", "/api/tasks?limit=50")):
        if get := _http_get(path):
            calls[field] = get
    for field, path in (("dashboard_tasks_ms", "/dashboard/tasks/"), ("dashboard_dead_ms", "/dashboard/dead-letters/"),
                        ("dashboard_metrics_ms", "/dashboard/metrics/?window=7d"),
                        ("admin_tasks_ms", "/admin/tasks/task/")):
        if get := _page_get(path):
            calls[field] = get
    reading = ScaleReading(rows=rows, **_time_rounds(calls, rounds))
    say(f"  {rows:,} finished rows: stats {reading.stats_ms:.2f} ms, list page {reading.list_ms:.2f} ms, "
        f"failed list page {reading.list_filtered_ms:.2f} ms, claim of 10 {reading.claim_ms:.2f} ms "
        f"(all queues {reading.claim_all_ms:.2f} ms), "
        f"GET /api/stats {_fmt(reading.stats_http_ms)}, GET /api/tasks {_fmt(reading.list_http_ms)}")
    return reading


def explain_claim() -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a claim of 10 from the benchmark queue, with
    1,000 fresh pending tasks in it (after the measurements used most of theirs)."""
    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.queue import claims

    queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(1000)])
    cursor = raw_cursor()
    cursor.execute("ANALYZE tasks_task")
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + claims.CLAIM_FROM_QUEUES,
                   {"worker": uuid.uuid4(), "limit": 10, "queues": [QUEUE]})
    plan = "\n".join(row[0] for row in cursor.fetchall())
    if "task_claim_idx" not in plan:
        say("  warning: the claim's plan does not use task_claim_idx")
    return plan


def _fmt(ms: float | None) -> str:
    return "not on this branch" if ms is None else f"{ms:.2f} ms"
