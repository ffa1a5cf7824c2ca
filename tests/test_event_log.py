"""The event log as triggers write it and readers walk it: real PostgreSQL,
real concurrent transactions."""

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from uuid6 import uuid7

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.maintenance import fold_events, fold_history, prune_events
from tasks.models import Event, EventCursor, MetricCount, Task, WebhookDelivery
from tasks.telemetry import event_log as events
from tasks.telemetry.event_log import END, Cursor, Filter, Message
from tasks.telemetry.metrics import BUCKETS
from tests.factories import WorkerFactory
from tests.support.database import database_url_for_tests


def log(event=None):
    rows = Event.objects.order_by("xid", "id")
    return list(rows.filter(event=event) if event else rows)


def claim_and_complete(worker, n, queue_name="default"):
    jobs = queue.claim(raw_cursor(), worker.id, [queue_name], n)
    now = time.time()
    queue.complete(raw_cursor(), worker.id, [Outcome(j.id, j.attempt, True, "1", None, now - 0.2, now) for j in jobs])
    return jobs


@pytest.mark.django_db(transaction=True)
def test_a_batch_writes_one_row_per_group_with_every_task_id():
    worker = WorkerFactory()
    created = queue.enqueue_many([queue.build("echo", i) for i in range(30)] +
                                 [queue.build("email", "a@example.com", queue="mail") for _ in range(5)])
    assert sorted((e.queue, e.type, len(e.task_ids)) for e in log("task.created")) == [
        ("default", "echo", 30), ("mail", "email", 5)]
    jobs = claim_and_complete(worker, 30)
    [started] = log("task.started")
    assert sorted(started.task_ids) == sorted(j.id for j in jobs) and set(started.attempts) == {1}
    assert started.worker_id == worker.id and all(0 <= s < 60 for s in started.seconds)
    [completed] = log("task.completed")
    assert len(completed.task_ids) == 30
    assert all(abs(s - 0.2) < 0.001 for s in completed.seconds)  # run time: completed_at - started_at
    assert {t.id for t in created} >= set(completed.task_ids)


@pytest.mark.django_db(transaction=True)
def test_only_status_changes_are_events():
    worker = WorkerFactory()
    task = queue.enqueue("echo", 1)
    queue.claim(raw_cursor(), worker.id, ["default"], 1)
    before = Event.objects.count()
    Task.objects.filter(pk=task.pk).update(progress=0.5, progress_message="half way")
    Task.objects.filter(pk=task.pk).update(updated_at=timezone.now())
    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_retries_failures_cancellations_and_manual_retries_are_named():
    worker = WorkerFactory()
    retrying = queue.enqueue("fail", "x", max_retries=1)
    doomed = queue.enqueue("fail", "y", max_retries=0)
    later = queue.enqueue("echo", 1, run_at=timezone.now() + timedelta(hours=1))
    jobs = queue.claim(raw_cursor(), worker.id, ["default"], 2)
    now = timezone.now()
    queue.fail(raw_cursor(), [queue.failure(j, {"type": "E", "message": "m", "traceback": ""}, now) for j in jobs])
    queue.cancel(later)
    queue.retry(doomed)
    names = {(e.event, tid) for e in log() for tid in e.task_ids}
    assert ("task.retried", retrying.id) in names          # attempt failed, retry scheduled
    assert ("task.failed", doomed.id) in names             # no retries left: dead letter
    assert ("task.cancelled", later.id) in names
    assert [e.event for e in log() if doomed.id in e.task_ids][-1] == "task.retried"  # retried by hand


@pytest.mark.django_db(transaction=True)
def test_worker_state_changes_are_events_and_heartbeats_are_not():
    worker = WorkerFactory()
    worker.pause()
    worker.resume()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tasks_worker SET last_heartbeat = now(), state = state WHERE id = %s", [worker.id])
    assert [e.event for e in log()] == ["worker.started", "worker.paused", "worker.resumed"]
    assert log()[1].data["hostname"] == "test-host" and log()[1].worker_id == worker.id


@pytest.mark.django_db(transaction=True)
def test_a_row_that_commits_late_is_read_in_its_place_not_skipped():
    """T1 takes its transaction id first but writes its event after T2 committed:
    T2's row has the lower event id. A reader following ids alone would move past
    T1's row before it commits; the horizon holds T2's row back until T1 ends."""
    with psycopg.connect(database_url_for_tests()) as t1:
        t1.execute("SELECT pg_current_xact_id()")  # T1 is now open with the older xid
        early = queue.enqueue("echo", "committed first")  # T2, autocommit
        with connection.cursor() as cursor:
            assert events.rows_after(cursor, events.Cursor()) == []  # held back behind T1
        t1.execute("INSERT INTO tasks_task (id, type, payload, queue, priority, status, run_at, max_retries, "
                   "retry_count, attempt, webhook, last_error, errors, progress_message, created_at, updated_at) "
                   "VALUES (%s, 'echo', '1', 'default', 0, 'pending', now(), 0, 0, 0, '', '', '[]', '', now(), now())",
                   [uuid7()])
        t1.commit()
    with connection.cursor() as cursor:
        rows = events.rows_after(cursor, events.Cursor())
    assert len(rows) == 2
    assert rows[0][0] > rows[1][0]  # T1's row came second by id, first by xid
    assert early.id in rows[1][7]


@pytest.mark.django_db(transaction=True)
def test_other_databases_transactions_do_not_hold_events_back():
    with psycopg.connect(database_url_for_tests(), autocommit=True) as admin:
        other = f"ops_other_{uuid7().hex[:8]}"
        admin.execute(f"CREATE DATABASE {other}")
    try:
        with psycopg.connect(database_url_for_tests().replace(connection.settings_dict["NAME"], other)) as elsewhere:
            elsewhere.execute("CREATE TABLE t (x int)")  # an open transaction with an xid, in another database
            queue.enqueue("echo", 1)
            with connection.cursor() as cursor:
                assert len(events.rows_after(cursor, events.Cursor())) == 1
    finally:
        with psycopg.connect(database_url_for_tests(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {other}")


@pytest.mark.django_db(transaction=True)
def test_fold_counts_each_event_once_and_pruning_keeps_what_it_has_not_counted():
    worker = WorkerFactory()
    queue.enqueue_many([queue.build("echo", i) for i in range(10)])
    claim_and_complete(worker, 10)
    now = timezone.now()
    assert fold_events.run_once(now) == 4  # worker.started, task.created, .started, .completed
    assert fold_events.run_once(now) == 0
    counts = {(m.name, m.le): m.count for m in MetricCount.objects.filter(queue="default", type="echo")}
    assert counts[("task.created", -1)] == counts[("task.completed", -1)] == 10
    assert counts[("duration", BUCKETS.index(0.25))] == 10  # 0.2 s runs: 0.1 <= s < 0.25
    assert sum(v for (name, le), v in counts.items() if name == "wait") == 10
    queue.enqueue("echo", "not folded yet")
    fold_history.run_once(now)  # pruning waits for both folds; history folds the same four rows
    assert prune_events.run_once(now + timedelta(days=1)) == 4
    assert [e.event for e in log()] == ["task.created"]
    assert EventCursor.objects.get(name="metrics").event_id > 0


@pytest.mark.parametrize("text, expected", [
    ("12-34-0", Cursor(12, 34, 0)),
    (f"12-34-{END}", Cursor(12, 34, END)),
    ("", None), ("12-34", None), ("a-b-c", None), ("1--2-3", None), ("12-34--1", None),
])
def test_last_event_id_parsing(text, expected):
    assert Cursor.parse(text) == expected


def _message(event, queue="q", type="echo"):
    return Message(Cursor(), event, queue, type, {})


@pytest.mark.parametrize("flt, message, accepted", [
    (Filter(), _message("task.created"), True),
    (Filter(queues=frozenset({"q"})), _message("task.created"), True),
    (Filter(queues=frozenset({"other"})), _message("task.created"), False),
    (Filter(types=frozenset({"email"})), _message("task.created"), False),
    (Filter(events=frozenset({"task.*"})), _message("task.failed"), True),
    (Filter(events=frozenset({"task.completed"})), _message("task.failed"), False),
    (Filter(queues=frozenset({"other"})), _message("worker.started", "", ""), True),
    (Filter(events=frozenset({"task.*"})), _message("worker.started", "", ""), False),
])
def test_stream_filters(flt, message, accepted):
    assert flt.accepts(message) is accepted


@pytest.mark.django_db(transaction=True)
def test_webhook_deliveries_that_end_are_events_and_counted():
    task = queue.enqueue("echo", 1, queue="hooks")
    ok = WebhookDelivery.objects.create(task=task, url="https://example.com/a")
    bad = WebhookDelivery.objects.create(task=task, url="https://example.com/b")
    WebhookDelivery.objects.filter(pk=ok.pk).update(attempts=1)  # an attempt leased: no event
    WebhookDelivery.objects.filter(pk=ok.pk).update(status="delivered")
    WebhookDelivery.objects.filter(pk=bad.pk).update(status="failed", attempts=5)
    assert [(e.event, e.queue, e.type, e.attempts) for e in log() if e.event.startswith("webhook.")] == [
        ("webhook.delivered", "hooks", "echo", [1]), ("webhook.failed", "hooks", "echo", [5])]
    fold_events.run_once(timezone.now())
    counts = {m.name: m.count for m in MetricCount.objects.filter(queue="hooks", le=-1)}
    assert counts == {"task.created": 1, "webhook.delivered": 1, "webhook.failed": 1}
