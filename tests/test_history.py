"""Metrics over time: the fold from the event log into per-period histograms, the
windows the charts read, pruning, and the metrics page; real PostgreSQL, real
claims and completions."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.maintenance import fold_events, fold_history, prune, prune_events
from tasks.models import Event, TimingCount, TimingKind
from tasks.telemetry import history
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run(worker, queue_name: str, type: str, n: int, *, waited: float, took: float, fail: int = 0):
    """Enqueue n tasks that became runnable `waited` seconds ago, claim them, and
    complete them after `took` seconds each (the last `fail` of them fail for good)."""
    now = timezone.now()
    queue.enqueue_many([queue.build(type, i, queue=queue_name, max_retries=0, run_at=now - timedelta(seconds=waited),
                                    now=now - timedelta(seconds=waited)) for i in range(n)])
    jobs = queue.claim(raw_cursor(), worker.id, [queue_name], n)
    end = time.time()
    done, failed = jobs[: n - fail], jobs[n - fail:]
    queue.complete(raw_cursor(), worker.id, [Outcome(j.id, j.attempt, True, "1", None, end - took, end) for j in done])
    error = {"type": "RuntimeError", "message": "boom", "traceback": ""}
    queue.fail(raw_cursor(), [queue.failure(j, error, timezone.now()) for j in failed])


def test_the_fold_counts_every_claim_completion_and_failure_once_per_queue_and_per_type():
    worker = WorkerFactory()
    run(worker, "emails", "echo", 20, waited=2.0, took=0.05, fail=2)
    run(worker, "reports", "sleep", 5, waited=30.0, took=3.0)
    assert fold_history.run_once(timezone.now()) > 0
    assert fold_history.run_once(timezone.now()) == 0  # once only

    now = timezone.now()
    _, by_queue = history.window(now, "1h", "queue")
    emails, reports = sorted(by_queue, key=lambda s: s.name)
    assert (emails.name, emails.total.completed, emails.total.failed) == ("emails", 18, 2)
    assert (reports.name, reports.total.completed, reports.total.failed) == ("reports", 5, 0)
    # Wait from run_at to the claim; run time from start to completion: within a bin (a factor sqrt 2).
    assert 1.4 < emails.total.percentile("wait", 0.5) < 2.9
    assert 0.035 < emails.total.percentile("run", 0.95) < 0.071
    assert 2.1 < reports.total.percentile("run", 0.5) < 4.3
    _, by_type = history.window(now, "1h", "type")
    assert {s.name: s.total.completed for s in by_type} == {"echo": 18, "sleep": 5}
    # Every resolution holds the same counts, so the 24 h and 7 d windows agree with the hour.
    for name in ("24h", "7d"):
        _, series = history.window(now, name, "queue")
        assert {s.name: (s.total.completed, s.total.failed) for s in series} == {"emails": (18, 2), "reports": (5, 0)}
    assert set(TimingCount.objects.values_list("resolution", flat=True)) == {60, 900, 3600}


def test_a_window_has_one_point_per_period_and_puts_counts_in_their_period():
    worker = WorkerFactory()
    run(worker, "emails", "echo", 3, waited=0.1, took=0.01)
    fold_history.run_once(timezone.now())
    now = timezone.now()
    for name, count in (("1h", 60), ("24h", 96), ("7d", 168)):
        starts, (series,) = history.window(now, name, "queue")
        assert len(starts) == len(series.points) == count
        assert starts == sorted(starts) and starts[-1] <= now < starts[-1] + (starts[1] - starts[0])
        assert series.points[-1].completed == 3 or series.points[-2].completed == 3  # this period (or the last)
    later = now + timedelta(hours=2)  # an hour later, the 1 h window no longer holds them
    assert history.window(later, "1h", "queue")[1] == []


def test_rows_are_pruned_after_their_resolutions_retention_and_events_only_after_both_folds():
    worker = WorkerFactory()
    run(worker, "emails", "echo", 2, waited=0.1, took=0.01)
    now = timezone.now()
    fold_events.run_once(now)
    assert prune_events.run_once(now + timedelta(days=1)) == 0  # history has not folded them yet
    fold_history.run_once(now)
    assert prune_events.run_once(now + timedelta(days=1)) > 0
    assert not Event.objects.filter(event="task.completed").exists()
    prune.run_once(now + timedelta(hours=3))  # past the 1-minute rows' retention only
    assert set(TimingCount.objects.values_list("resolution", flat=True)) == {900, 3600}
    prune.run_once(now + timedelta(days=9))
    assert not TimingCount.objects.exists()


def test_the_metrics_page_draws_the_windows_and_lists_every_series(staff_client):
    worker = WorkerFactory()
    run(worker, "emails", "echo", 4, waited=0.5, took=0.2, fail=1)
    fold_history.run_once(timezone.now())
    for window in ("1h", "24h", "7d"):
        for by in ("queue", "type"):
            html = staff_client.get("/dashboard/metrics/", {"window": window, "by": by}).content.decode()
            assert html.count("<svg") == 3 and 'data-chart' in html
            name = "emails" if by == "queue" else "echo"
            row = html[html.index(f'data-series="{name}"'):]
            assert '<td data-label="Completed">3</td>' in row and '<td data-label="Failed">1</td>' in row
            assert "ms</td>" in row  # percentiles, in words
    assert TimingCount.objects.filter(kind=TimingKind.FAILED, queue="emails").exists()
