"""The django.tasks backend, driven through Django's own task API, in one process."""

import asyncio
import io
import json
import logging
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.tasks import TaskResultStatus, default_task_backend, task, task_backends
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist, TaskResultMismatch
from django.tasks.signals import task_enqueued
from django.utils import timezone

from tasks import context, queue
from tasks.backends import PostgresBackend
from tasks.exceptions import WorkerLost
from tasks.handlers import registry
from tasks.jobs import Job
from tasks.models import Task, TaskStatus
from tasks.queue.enqueue import LOCK_UNIQUE_KEY
from tests import pytasks
from tests.factories import TaskFactory
from tests.test_api import api, post, token  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


@pytest.fixture
def enqueued():
    """TaskResults sent with task_enqueued while the test runs."""
    sent = []

    def receive(sender, task_result, **kwargs):
        sent.append((sender, task_result))

    task_enqueued.connect(receive)
    yield sent
    task_enqueued.disconnect(receive)


def test_the_project_default_backend_is_the_postgres_backend_with_every_feature():
    backend = task_backends["default"]
    assert isinstance(backend, PostgresBackend)
    assert backend.supports_defer and backend.supports_priority
    assert backend.supports_get_result and backend.supports_async_task


def test_enqueue_writes_a_row_and_returns_a_ready_result(enqueued):
    result = pytasks.describe.enqueue([1, 2], label="pair")
    row = Task.objects.get(pk=result.id)
    assert row.type == "tests.pytasks.describe"
    assert row.payload == {"args": [[1, 2]], "kwargs": {"label": "pair"}}
    assert (row.queue, row.priority, row.status) == ("python", 7, TaskStatus.PENDING)
    assert result.status == TaskResultStatus.READY
    assert result.args == [[1, 2]] and result.kwargs == {"label": "pair"}
    assert result.enqueued_at == row.created_at and result.worker_ids == [] and result.errors == []
    assert result.task.func is pytasks.describe.func
    assert [(sender, r.id) for sender, r in enqueued] == [(PostgresBackend, result.id)]


def test_a_task_enqueued_in_a_transaction_that_rolls_back_never_exists(enqueued):
    with pytest.raises(Rollback), transaction.atomic():
        doomed = pytasks.add.enqueue(1, 2)
        assert Task.objects.filter(pk=doomed.id).exists()
        raise Rollback
    kept = pytasks.add.enqueue(3, 4)
    assert [str(pk) for pk in Task.objects.values_list("id", flat=True)] == [kept.id]
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(doomed.id)


def test_run_after_makes_a_scheduled_task_and_must_be_aware():
    later = timezone.now() + timedelta(minutes=5)
    result = pytasks.add.using(run_after=later).enqueue(1, 1)
    row = Task.objects.get(pk=result.id)
    assert row.status == TaskStatus.SCHEDULED and row.run_at == later
    assert result.status == TaskResultStatus.READY and result.task.run_after == later
    with pytest.raises(InvalidTask, match="aware"):
        pytasks.add.using(run_after=datetime(2030, 1, 1)).enqueue(1, 1)


def test_priority_and_queue_come_from_using_and_are_checked():
    result = pytasks.add.using(priority=-20, queue_name="bulk").enqueue(1, 1)
    row = Task.objects.get(pk=result.id)
    assert (row.priority, row.queue) == (-20, "bulk")
    assert (result.task.priority, result.task.queue_name) == (-20, "bulk")
    with pytest.raises(InvalidTask, match="priority"):
        pytasks.add.using(priority=101)
    with pytest.raises(InvalidTask, match="queue"):
        pytasks.add.using(queue_name="no spaces").enqueue(1, 1)


def test_per_task_options_land_on_the_row_and_using_overrides_them():
    row = Task.objects.get(pk=pytasks.flaky.enqueue(2).id)
    assert (row.max_retries, row.retry_backoff) == (3, 0.1)
    row = Task.objects.get(pk=pytasks.flaky.using(max_retries=7, timeout=9, retry_backoff=2).enqueue(2).id)
    assert (row.max_retries, row.timeout, row.retry_backoff) == (7, 9, 2)
    row = Task.objects.get(pk=pytasks.add.enqueue(1, 2).id)
    # As under Django's other backends, a task that raises has failed: no retries unless asked for.
    assert (row.max_retries, row.timeout, row.retry_backoff) == (0, None, None)
    with pytest.raises(TypeError, match="unknown options: retries"):
        pytasks.add.using(retries=2)


def test_the_backends_options_set_the_defaults_of_its_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "tasks.backends.PostgresBackend", "QUEUES": [],
                                  "OPTIONS": {"max_retries": 4, "timeout": 30, "retry_backoff": 5}}}
    row = Task.objects.get(pk=pytasks.add.enqueue(1, 2).id)
    assert (row.max_retries, row.timeout, row.retry_backoff) == (4, 30, 5)
    row = Task.objects.get(pk=pytasks.flaky.enqueue(2).id)
    assert (row.max_retries, row.timeout, row.retry_backoff) == (3, 30, 0.1)  # its own options win


@pytest.mark.parametrize("options, message", [
    ({"max_retries": -1}, "max_retries"),
    ({"timeout": "soon"}, "timeout"),
    ({"retries": 3}, "Unknown OPTIONS retries"),
])
def test_bad_backend_options_are_refused_with_the_reason(settings, options, message):
    settings.TASKS = {"default": {"BACKEND": "tasks.backends.PostgresBackend", "OPTIONS": options}}
    with pytest.raises(ImproperlyConfigured, match=message):
        task_backends["default"]


@pytest.mark.parametrize("options, message", [
    ({"max_retries": 101}, "max_retries"),
    ({"timeout": 0}, "timeout"),
    ({"retry_backoff": -1}, "retry_backoff"),
    ({"unique": "yes"}, "unique"),
    ({"unique_key": ""}, "unique_key"),
    ({"expose": "has spaces"}, "type name"),
    ({"expose": "email"}, "already taken"),
])
def test_bad_task_options_are_refused_when_the_task_is_defined(options, message):
    with pytest.raises(InvalidTask, match=message):
        task(**options)(pytasks.sleep_then_add.func)


def test_arguments_must_be_json_and_fit_the_signature():
    with pytest.raises(InvalidTask, match="JSON"):
        pytasks.add.enqueue({1, 2}, 3)
    with pytest.raises(InvalidTask, match=r"payload: The arguments do not fit add\(a, b\)"):
        pytasks.add.enqueue(1, 2, 3)
    with pytest.raises(InvalidTask, match="missing a required argument"):
        pytasks.describe.enqueue(label="x")
    assert not Task.objects.exists()


def test_get_result_of_unknown_ids_and_of_another_task():
    for unknown in ("not-a-uuid", "01a2130e-ce2c-7e7e-a10a-79a47b156ec5", None):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(unknown)
    result = pytasks.add.enqueue(1, 2)
    assert pytasks.add.get_result(result.id).id == result.id
    with pytest.raises(TaskResultMismatch):
        pytasks.dedup.get_result(result.id)


@pytest.mark.parametrize("status, expected", [
    (TaskStatus.SCHEDULED, TaskResultStatus.READY),
    (TaskStatus.PENDING, TaskResultStatus.READY),
    (TaskStatus.PROCESSING, TaskResultStatus.RUNNING),
    (TaskStatus.COMPLETED, TaskResultStatus.SUCCESSFUL),
    (TaskStatus.FAILED, TaskResultStatus.FAILED),
    (TaskStatus.CANCELLED, TaskResultStatus.FAILED),
])
def test_statuses_map_onto_django_statuses(status, expected):
    row = TaskFactory(type="tests.pytasks.add", payload={"args": [1, 2]}, status=status)
    assert default_task_backend.get_result(row.id).status == expected


def test_a_row_with_history_gives_errors_worker_ids_and_the_return_value():
    now = timezone.now()
    errors = [
        {"attempt": 1, "worker": "w-1", "at": now.isoformat(), "type": "builtins.ConnectionError",
         "message": "down", "traceback": "Traceback ...\nConnectionError: down\n"},
        {"attempt": 2, "worker": "w-2", "at": now.isoformat(), "type": "tasks.exceptions.WorkerLost",
         "message": "lost", "traceback": ""},
    ]
    row = TaskFactory(type="tests.pytasks.add", payload={"args": [1, 2]}, status=TaskStatus.COMPLETED,
                      errors=errors, worker_id="01a2130e-ce2c-7e7e-a10a-79a47b156ec5", result={"sum": [3]},
                      started_at=now, completed_at=now + timedelta(seconds=1))
    result = default_task_backend.get_result(row.id)
    assert result.worker_ids == ["w-1", "w-2", "01a2130e-ce2c-7e7e-a10a-79a47b156ec5"]
    assert result.attempts == 3
    assert [e.exception_class for e in result.errors] == [ConnectionError, WorkerLost]
    assert "ConnectionError: down" in result.errors[0].traceback
    assert result.return_value == {"sum": [3]}
    assert (result.started_at, result.finished_at) == (now, now + timedelta(seconds=1))
    failed = TaskFactory(type="tests.pytasks.add", payload={"args": [1, 2]}, status=TaskStatus.FAILED, errors=errors)
    with pytest.raises(ValueError, match="Task failed"):
        default_task_backend.get_result(failed.id).return_value
    assert default_task_backend.get_result(failed.id).worker_ids == ["w-1", "w-2"]


def test_refresh_reads_the_row_again():
    result = pytasks.add.enqueue(2, 2)
    row = Task.objects.get(pk=result.id)
    row.status, row.result = TaskStatus.COMPLETED, 4
    row.save()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 4


def test_rows_of_plain_handler_types_read_as_results_too():
    row = queue.enqueue("echo", {"hello": "world"})
    result = default_task_backend.get_result(row.id)
    assert result.args == [{"hello": "world"}] and result.task.func is registry.get("echo").func


@pytest.mark.django_db(transaction=True)
def test_aenqueue_and_aget_result():
    async def scenario():
        result = await pytasks.async_add.aenqueue(20, 22)
        again = await default_task_backend.aget_result(result.id)
        await result.arefresh()
        # Async ORM calls run in one shared thread with its own connection: close it.
        await sync_to_async(lambda: connection.close())()
        return result, again

    result, again = asyncio.run(scenario())
    assert again.id == result.id and again.args == [20, 22] and again.status == TaskResultStatus.READY
    assert Task.objects.get(pk=result.id).type == "tests.pytasks.async_add"


def test_unique_tasks_return_the_active_holder(enqueued):
    first = pytasks.dedup.enqueue(1)
    assert pytasks.dedup.enqueue(1).id == first.id
    other = pytasks.dedup.enqueue(2)
    assert other.id != first.id
    assert len(enqueued) == 2  # a duplicate is not enqueued, so no signal
    Task.objects.filter(pk=first.id).update(status=TaskStatus.COMPLETED)
    after = pytasks.dedup.enqueue(1)
    assert after.id != first.id  # held only while active
    assert Task.objects.filter(type="tests.pytasks.dedup").count() == 3


def test_a_unique_window_holds_the_key_after_the_task_finished():
    first = pytasks.throttled.enqueue(5)
    Task.objects.filter(pk=first.id).update(status=TaskStatus.COMPLETED)
    assert pytasks.throttled.enqueue(5).id == first.id  # within 60 s
    Task.objects.filter(pk=first.id).update(created_at=timezone.now() - timedelta(seconds=61))
    assert pytasks.throttled.enqueue(5).id != first.id


def test_an_explicit_unique_key_is_shared_across_types():
    first = pytasks.add.using(unique_key="nightly-42").enqueue(1, 2)
    second = pytasks.dedup.using(unique_key="nightly-42").enqueue(9)
    assert second.id == first.id and second.task.func is pytasks.add.func
    assert Task.objects.get(pk=first.id).unique_key == "nightly-42"


def test_an_exposed_task_is_created_over_rest_and_checked(api):  # noqa: F811
    assert "py-echo" in registry.exposed_names()
    assert "tests.pytasks.add" not in registry.exposed_names()
    response = post(api, {"type": "py-echo", "payload": {"args": ["hi"]}})
    assert response.status_code == 201, response.content
    assert default_task_backend.get_result(response.json()["id"]).args == ["hi"]
    response = post(api, {"type": "py-echo", "payload": {"args": [1, 2]}})
    assert response.status_code == 400
    assert "payload" in json.loads(response.content)["error"]["fields"]
    response = post(api, {"type": "tests.pytasks.add", "payload": {"args": [1, 2]}})
    assert response.status_code == 400  # not exposed: its import path means nothing to the API


def test_queue_enqueue_with_a_unique_key_returns_the_holder_for_any_type():
    first = queue.enqueue("echo", 1, unique_key="report-7")
    assert queue.enqueue("echo", 2, unique_key="report-7").pk == first.pk
    assert Task.objects.count() == 1


def test_retry_backoff_sets_the_base_of_the_tasks_retry_policy():
    now = timezone.now()
    row = Task.objects.get(pk=pytasks.flaky.using(retry_backoff=100).enqueue(9).id)
    job = Job(id=row.id, type=row.type, payload_json=None, queue=row.queue, priority=0, attempt=1,
              retry_count=0, max_retries=3, timeout=10, worker_id=uuid.uuid4(), retry_backoff=row.retry_backoff)
    run_at = queue.failure(job, {"type": "builtins.ValueError", "message": "x", "traceback": ""}, now).run_at
    assert now + timedelta(seconds=50) <= run_at <= now + timedelta(seconds=100)  # equal jitter of 100 s
    default = queue.failure(replace(job, retry_backoff=None), {"type": "E", "message": "", "traceback": ""}, now)
    assert default.run_at <= now + timedelta(seconds=2)  # QUEUE_RETRY_BASE


def test_progress_is_fenced_by_the_attempt_that_holds_the_task():
    worker = uuid.uuid4()
    row = TaskFactory(status=TaskStatus.PROCESSING, attempt=2, worker_id=worker)
    job = Job(id=row.id, type="echo", payload_json=None, queue="default", priority=0, attempt=2,
              retry_count=0, max_retries=3, timeout=10, worker_id=worker)
    assert queue.report_progress(job, 0.25, "a quarter")
    assert not queue.report_progress(replace(job, attempt=1), 0.9, "stale")  # an earlier attempt
    row.refresh_from_db()
    assert (row.progress, row.progress_message) == (0.25, "a quarter")
    with context.running(job):
        assert context.report_progress(1, "x" * 600)
        for bad in (1.5, -0.1, True, "half", float("nan")):
            with pytest.raises(ValueError, match="from 0 to 1"):
                context.report_progress(bad)
    row.refresh_from_db()
    assert row.progress == 1 and len(row.progress_message) == 500


# A @task's declared options are the defaults of every path that creates it:
# the Python API, REST (one and bulk), schedules and the enqueue command.
DECLARED = {"max_retries": 5, "timeout": 1, "retry_backoff": 7, "module": "tests.pytasks"}


def declared_of(task_id) -> dict:
    return Task.objects.values(*DECLARED).get(pk=task_id)


def test_a_task_created_over_rest_keeps_its_declared_options_and_uniqueness(api):  # noqa: F811
    first = post(api, {"type": "py-invoice", "payload": {"args": [41]}})
    assert first.status_code == 201, first.content
    assert declared_of(first.json()["id"]) == DECLARED
    for _ in range(2):
        again = post(api, {"type": "py-invoice", "payload": {"args": [41]}})
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # The same arguments from Python are the same task, however the payload was spelled.
    assert pytasks.invoice.enqueue(41).id == first.json()["id"]
    other = post(api, {"type": "py-invoice", "payload": {"args": [42]}, "max_retries": 1})
    assert other.status_code == 201 and declared_of(other.json()["id"])["max_retries"] == 1  # asked for: wins
    assert Task.objects.count() == 2


def test_bulk_creates_over_rest_apply_the_declared_options_too(api):  # noqa: F811
    body = {"tasks": [{"type": "py-invoice", "payload": {"args": [n]}} for n in (7, 7, 8)]}
    response = post(api, body, path="/api/tasks/bulk")
    assert response.status_code == 201, response.content
    ids = response.json()["ids"]
    assert ids[0] == ids[1] != ids[2] and Task.objects.count() == 2
    assert all(declared_of(pk) == DECLARED for pk in set(ids))


def test_schedules_and_the_enqueue_command_apply_the_declared_options():
    from django.core.management import call_command

    from tasks.backends import periodic

    schedule = periodic.Schedule.objects.create(name="invoices", cron="* * * * *", task_type="py-invoice",
                                                payload={"args": [1]}, next_run_at=timezone.now())
    scheduled = periodic.run_now(schedule, timezone.now())
    assert declared_of(scheduled.pk) == DECLARED
    out = io.StringIO()
    call_command("enqueue", "py-invoice", '{"args": [2]}', stdout=out)
    assert declared_of(out.getvalue().split()[0]) == DECLARED


@pytest.mark.django_db(transaction=True)
def test_aenqueue_waits_in_a_thread_and_never_blocks_the_event_loop(raw_conn):
    # Another producer holds the task's unique key, so the enqueue waits on the database.
    key = pytasks.throttled.key_for({"args": [5]})

    async def scenario():
        ticks = 0
        with raw_conn.transaction():
            raw_conn.execute(LOCK_UNIQUE_KEY, [key])
            pending = asyncio.ensure_future(pytasks.throttled.aenqueue(5))
            while ticks < 20:  # the loop goes on while the enqueue waits
                await asyncio.sleep(0.01)
                ticks += 1
            assert not pending.done()
        result = await asyncio.wait_for(pending, 10)
        await sync_to_async(lambda: connection.close())()
        return result, ticks

    result, ticks = asyncio.run(scenario())
    assert ticks == 20 and Task.objects.get(pk=result.id).unique_key == key


def test_enqueue_many_of_a_task_is_one_insert_with_a_result_and_a_signal_each(enqueued, django_assert_num_queries):
    with django_assert_num_queries(1):
        results = pytasks.describe.enqueue_many([([1],), {"value": 2, "label": "two"}, ("three",)])
    rows = {str(row.pk): row for row in Task.objects.all()}
    assert [rows[r.id].payload for r in results] == [
        {"args": [[1]], "kwargs": {}}, {"args": [], "kwargs": {"value": 2, "label": "two"}},
        {"args": ["three"], "kwargs": {}}]
    assert all(rows[r.id].queue == "python" and rows[r.id].priority == 7 for r in results)
    assert [r.args for r in results] == [[[1]], [], ["three"]] and results[1].kwargs == {"value": 2, "label": "two"}
    assert [r.id for _, r in enqueued] == [r.id for r in results]
    assert results[0].status == TaskResultStatus.READY and results[0].task.func is pytasks.describe.func


def test_enqueue_many_checks_every_call_and_writes_nothing_when_one_is_bad():
    with pytest.raises(InvalidTask, match="Task 2: The arguments do not fit add"):
        pytasks.add.enqueue_many([(1, 2), (3, 4), (5,)])
    with pytest.raises(InvalidTask, match="JSON"):
        pytasks.add.enqueue_many([(1, 2), ({1}, 2)])
    with pytest.raises(InvalidTask, match="tuple of arguments"):
        pytasks.add.enqueue_many([(1, 2), 3])
    assert not Task.objects.exists()


def test_enqueue_many_of_a_unique_task_answers_duplicates_with_the_holder(enqueued):
    held = pytasks.dedup.enqueue(1)
    results = pytasks.dedup.enqueue_many([(1,), (2,), (2,)])
    assert results[0].id == held.id and results[1].id == results[2].id != held.id
    assert Task.objects.count() == 2 and len(enqueued) == 2


def test_django_still_logs_task_signals_when_its_logger_asks(caplog):
    # Signals nobody hears are not sent (a worker's hot path); Django's own log receiver counts.
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        result = pytasks.add.enqueue(1, 2)
    assert any(result.id in record.getMessage() and "enqueued" in record.getMessage() for record in caplog.records)
