"""Prometheus metrics, read from the database at scrape time (served at /metrics by tasks.api.monitoring).

Every number comes from PostgreSQL, so any web process on any machine answers
the same and nothing is lost when workers restart: counters and histograms
from the event log (folded into MetricCount by housekeeping, plus the rows
not folded yet), gauges from the status counters, the claim index, the worker
rows and the webhook outbox. No worker keeps metrics in memory.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError, connection
from django.db.models import Count, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from tasks import replica
from tasks.db import in_batches
from tasks.models import DeliveryStatus, WebhookDelivery, Worker, WorkerState
from tasks.telemetry import counters, summary
from tasks.telemetry.event_log import fold_statement, position_of

# Upper bounds (seconds) of the duration and queue-wait histogram buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

# Counts and histogram buckets of the events in relation {source}: a counter row
# per (queue, type, event) with le = -1, and a histogram row per bucket, where
# width_bucket(s, BUCKETS) = i means BUCKETS[i-1] <= s < BUCKETS[i] (0-based
# index i into BUCKETS; len(BUCKETS) is +Inf).
AGGREGATE = """
SELECT queue, type, event AS name, -1 AS le, sum(cardinality(task_ids))::bigint AS count, 0::float8 AS sum
FROM {source} WHERE event NOT LIKE 'worker.%%' GROUP BY queue, type, event
UNION ALL
SELECT b.queue, b.type, CASE b.event WHEN 'task.started' THEN 'wait' ELSE 'duration' END,
       width_bucket(s, %(bounds)s::float8[]), count(*), sum(s)
FROM {source} b CROSS JOIN LATERAL unnest(b.seconds) AS s
WHERE b.event IN ('task.started', 'task.completed') AND s IS NOT NULL
GROUP BY 1, 2, 3, 4
"""

# The fold's position; no row yet means the start of the log.
FOLD_CURSOR = position_of("metrics")

# Folded totals plus the events the fold has not reached, in one statement so
# both come from one snapshot: a fold committing meanwhile is seen whole or not.
TOTALS = f"""
WITH cur AS ({FOLD_CURSOR}),
unfolded AS (SELECT e.* FROM tasks_event e, cur WHERE (e.xid, e.id) > (cur.xid, cur.id))
SELECT queue, type, name, le, sum(count)::bigint, sum(sum)::float8 FROM (
    SELECT queue, type, name, le, count, sum FROM tasks_metriccount
    UNION ALL
    {AGGREGATE.format(source="unfolded")}
) m GROUP BY queue, type, name, le
"""

# The fold: the final events after the cursor (in commit-safe order, see
# event_log.py) are added to MetricCount and the cursor moves past them, in one
# statement, so each event is counted exactly once however many workers fold.
FOLD_BATCH = 5000
FOLD = fold_statement("metrics", f"""counted AS (
    INSERT INTO tasks_metriccount (queue, type, name, le, count, sum)
    SELECT * FROM ({AGGREGATE.format(source="batch")}) a ORDER BY 1, 2, 3, 4
    ON CONFLICT (queue, type, name, le) DO UPDATE
    SET count = tasks_metriccount.count + excluded.count, sum = tasks_metriccount.sum + excluded.sum
)""")

COUNTERS = {
    "task.created": ("taskqueue_tasks_enqueued", "Tasks enqueued."),
    "task.started": ("taskqueue_tasks_started", "Tasks claimed by a worker (attempts started)."),
    "task.completed": ("taskqueue_tasks_completed", "Tasks completed."),
    "task.failed": ("taskqueue_tasks_failed", "Tasks that failed for good (new dead letters)."),
    "task.retried": ("taskqueue_tasks_retried", "Failed attempts rescheduled for a retry, and manual retries."),
    "task.cancelled": ("taskqueue_tasks_cancelled", "Tasks cancelled or purged before they ran."),
}
HISTOGRAMS = {
    "duration": ("taskqueue_task_duration_seconds", "Run time of completed tasks."),
    "wait": ("taskqueue_task_queue_wait_seconds", "Time from runnable (the later of creation and run_at) to claimed."),
}


def fold() -> int:
    """Fold every final event not folded yet into MetricCount, in batches, one
    process at a time; returns how many log rows."""

    def step(cursor) -> int:
        cursor.execute(FOLD, {"limit": FOLD_BATCH, "bounds": bounds()})
        return cursor.fetchone()[0]

    return in_batches("fold_events", step, FOLD_BATCH)


def bounds() -> list[float]:
    return [float(b) for b in BUCKETS]


class QueueCollector:
    """A prometheus_client collector that queries the database on each scrape."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or timezone.now()
        yield from self._events()
        yield from self._statuses(now)
        yield from self._workers(now)
        yield from self._flow(now)
        pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count()
        yield GaugeMetricFamily("taskqueue_webhook_deliveries_pending", "Webhook deliveries waiting for an attempt.",
                                value=pending)
        if replica.configured():
            yield from self._replica()

    @staticmethod
    def _replica() -> Iterator[Metric]:
        """The replica's replay lag; up = 0 (and no lag) while it cannot be reached."""
        try:
            lag = replica.lag_seconds()
        except DatabaseError:
            lag = None
        yield GaugeMetricFamily("taskqueue_replica_up", "1 when the read replica (DATABASE_REPLICA_URL) answers.",
                                value=0 if lag is None else 1)
        if lag is not None:
            yield GaugeMetricFamily("taskqueue_replica_lag_seconds",
                                    "How far the read replica's replay is behind the primary.", value=lag)

    def _events(self) -> Iterator[Metric]:
        with connection.cursor() as cursor:
            cursor.execute(TOTALS, {"bounds": bounds()})
            rows = cursor.fetchall()
        counters = {event: CounterMetricFamily(name, doc, labels=["queue", "type"])
                    for event, (name, doc) in COUNTERS.items()}
        webhooks = CounterMetricFamily("taskqueue_webhook_deliveries", "Webhook deliveries that ended.",
                                       labels=["queue", "type", "outcome"])
        buckets: dict[tuple, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        sums: dict[tuple, float] = defaultdict(float)
        for queue, type, name, le, count, total in rows:
            if le < 0 and name in counters:
                counters[name].add_metric([queue, type], count)
            elif le < 0 and name.startswith("webhook."):
                webhooks.add_metric([queue, type, name.removeprefix("webhook.")], count)
            elif le >= 0:
                buckets[(name, queue, type)][le] += count
                sums[(name, queue, type)] += total
        yield from counters.values()
        yield webhooks
        for kind, (name, doc) in HISTOGRAMS.items():
            family = HistogramMetricFamily(name, doc, labels=["queue", "type"])
            for (k, queue, type), counts in sorted(buckets.items()):
                if k == kind:
                    family.add_metric([queue, type], _cumulative(counts), sums[(k, queue, type)])
            yield family

    def _statuses(self, now: datetime) -> Iterator[Metric]:
        by_queue = counters.counts()
        tasks = GaugeMetricFamily("taskqueue_tasks", "Tasks by queue and status, now.", labels=["queue", "status"])
        depth = GaugeMetricFamily("taskqueue_queue_depth", "Pending (runnable) tasks per queue.", labels=["queue"])
        age = GaugeMetricFamily("taskqueue_queue_oldest_pending_age_seconds",
                                "Age of the oldest pending task per queue, from when it became runnable.", labels=["queue"])
        for queue, statuses in sorted(by_queue.items()):
            for status, count in sorted(statuses.items()):
                tasks.add_metric([queue, status], count)
            depth.add_metric([queue], statuses.get("pending", 0))
            oldest = counters.oldest_pending(queue) if statuses.get("pending") else None
            age.add_metric([queue], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield from (tasks, depth, age)

    def _flow(self, now: datetime) -> Iterator[Metric]:
        """Queues under flow control: their limits and how much of them is used."""
        gauges = {
            "max_running": GaugeMetricFamily("taskqueue_queue_max_running", "Flow control: most tasks running at once.",
                                             labels=["queue"]),
            "running": GaugeMetricFamily("taskqueue_queue_running", "Tasks of a limited queue running now.",
                                         labels=["queue"]),
            "rate_limit": GaugeMetricFamily("taskqueue_queue_rate_limit", "Flow control: most tasks started per period.",
                                            labels=["queue"]),
            "rate_used": GaugeMetricFamily("taskqueue_queue_rate_used", "Tasks started within the last rate period.",
                                           labels=["queue"]),
            "waiting_on_limit": GaugeMetricFamily("taskqueue_queue_waiting_on_limit",
                                                  "Pending tasks held back by a limit now reached.", labels=["queue"]),
        }
        for queue in summary.queues(now):
            for field, gauge in gauges.items():
                if queue.flow is not None and queue.flow[field] is not None:
                    gauge.add_metric([queue.name], queue.flow[field])
        yield from gauges.values()

    def _workers(self, now: datetime) -> Iterator[Metric]:
        workers = GaugeMetricFamily("taskqueue_workers", "Live worker processes by state.", labels=["state"])
        slots = GaugeMetricFamily("taskqueue_worker_slots", "Execution slots of live workers.")
        busy = GaugeMetricFamily("taskqueue_worker_busy_slots", "Slots running a task at the last heartbeat.")
        by_state = {str(s): {"n": 0, "slots": 0, "busy": 0}
                    for s in (WorkerState.RUNNING, WorkerState.PAUSED, WorkerState.STOPPING)}
        rows = (Worker.objects.alive(now).order_by().values("state")
                .annotate(n=Count("id"), slots=Sum("concurrency"), busy=Sum("busy")))
        for row in rows:
            by_state[row["state"]] = row
        for state, row in by_state.items():
            workers.add_metric([state], row["n"])
        slots.add_metric([], sum(row["slots"] for row in by_state.values()))
        busy.add_metric([], sum(row["busy"] for row in by_state.values()))
        yield from (workers, slots, busy)


def _cumulative(counts: list[int]) -> list[tuple[str, int]]:
    out, running = [], 0
    for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts):
        running += count
        out.append((bound, running))
    return out


def render(now: datetime | None = None) -> bytes:
    """The exposition text of every metric."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(now))
    return generate_latest(registry)
