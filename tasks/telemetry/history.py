"""Metrics over time: throughput, and wait and run time percentiles, per queue or per type.

The fold (housekeeping, tasks/maintenance/fold_history.py) reads the event log
after its own cursor, in commit-safe order (event_log.py), and adds each
task's seconds to histogram bins of TimingCount at three resolutions in one
statement, moving the cursor in the same statement: every event is counted
once, whichever worker folds. The bins grow by a factor of sqrt(2) from 1 ms,
so a percentile read from them (interpolated within its bin) is never off by
more than that factor, whatever the spread of the times, and usually by much
less: about as close as a chart can show.

A chart reads one resolution over one window (WINDOWS): at most a few hundred
periods times the number of queues or types, whatever the number of tasks,
from the (resolution, start) end of the table's unique index.
"""

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BigIntegerField
from django.db.models.functions import Cast, Extract

from tasks.db import in_batches
from tasks.models import TimingCount, TimingKind
from tasks.telemetry.event_log import fold_statement

# Upper bounds (seconds) of the histogram bins: 1 ms times powers of sqrt(2),
# up to about 26 hours; width_bucket numbers them 0 (below 1 ms) to len (above).
BOUNDS = tuple(round(0.001 * 2 ** (k / 2), 9) for k in range(54))
# window: (span, resolution of the rows read), both in seconds.
WINDOWS = {"1h": (3600, 60), "24h": (86400, 900), "7d": (7 * 86400, 3600)}
# How long rows of each resolution are kept: the widest window that reads them, and a margin.
RETENTION = {60: 2 * 3600, 900: 2 * 86400, 3600: 8 * 86400}

# One sample per task: claims carry the wait, completions the run time, new
# dead letters only count. Each sample goes to its period at every resolution,
# once per queue and once per type.
FOLD_BATCH = 5000
FOLD = fold_statement("history", """samples AS (
    SELECT b.at, b.queue, b.type, CASE b.event WHEN 'task.started' THEN 'wait' ELSE 'run' END AS kind,
           width_bucket(s, %(bounds)s::float8[]) AS bin, s AS seconds, 1 AS n
    FROM batch b CROSS JOIN LATERAL unnest(b.seconds) AS s
    WHERE b.event IN ('task.started', 'task.completed') AND s IS NOT NULL
    UNION ALL
    SELECT b.at, b.queue, b.type, 'failed', -1, 0, cardinality(b.task_ids)
    FROM batch b WHERE b.event = 'task.failed'
), periods AS (
    SELECT r.seconds AS resolution, to_timestamp(floor(extract(epoch FROM s.at) / r.seconds) * r.seconds) AS start,
           s.queue, s.type, s.kind, s.bin, s.seconds, s.n
    FROM samples s CROSS JOIN (VALUES (60), (900), (3600)) AS r(seconds)
), counted AS (
    INSERT INTO tasks_timingcount (resolution, start, queue, type, kind, bin, count, sum)
    SELECT * FROM (
        SELECT resolution, start, queue, '', kind, bin, sum(n), sum(seconds) FROM periods GROUP BY 1, 2, 3, 5, 6
        UNION ALL
        SELECT resolution, start, '', type, kind, bin, sum(n), sum(seconds) FROM periods GROUP BY 1, 2, 4, 5, 6
    ) a ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (resolution, start, queue, type, kind, bin) DO UPDATE
    SET count = tasks_timingcount.count + excluded.count, sum = tasks_timingcount.sum + excluded.sum
)""")

PRUNE = "DELETE FROM tasks_timingcount WHERE resolution = %s AND start < %s"


def fold() -> int:
    """Fold every final event not folded yet, in batches, one process at a time; returns how many log rows."""

    def step(cursor) -> int:
        cursor.execute(FOLD, {"limit": FOLD_BATCH, "bounds": list(BOUNDS)})
        return cursor.fetchone()[0]

    return in_batches("fold_history", step, FOLD_BATCH)


def prune(now: datetime) -> int:
    """Delete the rows past their resolution's retention; returns how many."""
    deleted = 0
    with connection.cursor() as cursor:
        for resolution, keep in RETENTION.items():
            cursor.execute(PRUNE, [resolution, now - timedelta(seconds=keep)])
            deleted += cursor.rowcount
    return deleted


@dataclass
class Point:
    """One period of one series."""

    start: datetime
    completed: int = 0
    failed: int = 0
    wait: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))
    run: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))

    def percentile(self, kind: str, q: float) -> float | None:
        return percentile(getattr(self, kind), q)


@dataclass
class Series:
    name: str
    points: list[Point]
    total: Point  # the whole window merged

    @property
    def volume(self) -> int:
        return self.total.completed + self.total.failed + sum(self.total.wait)


def window(now: datetime, name: str, by: str) -> tuple[list[datetime], list[Series]]:
    """The periods of window `name` (a key of WINDOWS) ending now, and one Series
    per queue (`by="queue"`) or per task type (`by="type"`), busiest first."""
    span, resolution = WINDOWS[name]
    last = _period(now, resolution)
    starts = [last - timedelta(seconds=resolution * i) for i in range(span // resolution - 1, -1, -1)]
    # Periods as epoch seconds: thousands of rows, and a datetime each would cost more than the rest.
    rows = (TimingCount.objects.filter(resolution=resolution, start__gte=starts[0], start__lte=last)
            .exclude(**{by: ""}).annotate(epoch=Cast(Extract("start", "epoch"), BigIntegerField()))
            .values_list(by, "epoch", "kind", "bin", "count"))
    series: dict[str, Series] = {}
    index = {int(start.timestamp()): i for i, start in enumerate(starts)}
    for key, epoch, kind, bin, count in rows:
        if epoch not in index:
            continue
        start = epoch
        one = series.get(key) or series.setdefault(
            key, Series(key, [Point(s) for s in starts], Point(starts[0])))
        for point in (one.points[index[start]], one.total):
            if kind == TimingKind.FAILED:
                point.failed += count
            else:
                getattr(point, kind)[bin] += count
                if kind == TimingKind.RUN:
                    point.completed += count
    return starts, sorted(series.values(), key=lambda s: (-s.volume, s.name))


def percentile(bins: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram over BOUNDS, interpolated within its
    bin on a log scale (the bins are geometric); None when it is empty."""
    total = sum(bins)
    if not total:
        return None
    rank = q * total
    cumulative = 0
    for i, count in enumerate(bins):
        if count and cumulative + count >= rank:
            share = (rank - cumulative) / count
            if i == 0:
                return BOUNDS[0] * share  # below the first bound: linear from 0
            if i >= len(BOUNDS):
                return BOUNDS[-1]  # above the last bound: at least that
            low, high = BOUNDS[i - 1], BOUNDS[i]
            return low * (high / low) ** share
        cumulative += count
    return BOUNDS[-1]


def bin_of(seconds: float) -> int:
    """width_bucket's bin for `seconds`, as the fold computes it."""
    return bisect.bisect_right(BOUNDS, seconds)


def _period(moment: datetime, resolution: int) -> datetime:
    """The start of the period of `resolution` seconds that holds `moment` (aligned to the epoch, as the fold)."""
    seconds = int(moment.timestamp()) // resolution * resolution
    return datetime.fromtimestamp(seconds, tz=moment.tzinfo)
