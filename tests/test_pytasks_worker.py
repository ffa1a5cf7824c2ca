"""@task functions run by real `manage.py worker` processes; results read back
through Django's task API from this (another) process."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from tasks.exceptions import TaskTimeout
from tasks.models import Task, Worker
from tests import pytasks
from tests.support import concurrency
from tests.support.database import database_url_for_tests
from tests.support.processes import wait_for
from tests.test_api import api, token  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


class Rollback(Exception):
    pass


def finished(result):
    result.refresh()
    return result.is_finished


def signals(queue_env) -> list[tuple[str, str, str, int]]:
    """(signal, task id, status, pid) lines written by the receivers in tests/pytasks.py."""
    path = Path(queue_env["TASKQUEUE_TEST_LOG"] + ".signals")
    if not path.exists():
        return []
    return [(s, i, st, int(pid)) for s, i, st, pid in (line.split() for line in path.read_text().splitlines())]


def test_sync_async_and_context_tasks_run_and_return_values(start_worker, queue_env):
    with pytest.raises(Rollback), transaction.atomic():
        never = pytasks.add.enqueue(100, 100)
        raise Rollback
    later = timezone.now() + timedelta(seconds=1.5)
    results = {
        "add": pytasks.add.enqueue(2, 3),
        "async": pytasks.async_add.enqueue(20, 22),
        "context": pytasks.whoami.enqueue("hello"),
        "kwargs": pytasks.describe.enqueue([1, "two"], label="list"),
        "later": pytasks.add.using(run_after=later).enqueue(1, 1),
    }
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: all(finished(r) for r in results.values()), timeout=30, message="tasks to finish")
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(results, TaskResultStatus.SUCCESSFUL)
    assert results["add"].return_value == 5
    assert results["async"].return_value == 42
    assert results["later"].return_value == 2 and results["later"].started_at >= later
    described = results["kwargs"].return_value
    assert described["label"] == "list" and described["value"] == [1, "two"]
    worker_id = str(Worker.objects.get().id)
    context = results["context"].return_value
    assert context == {"id": results["context"].id, "attempt": 1, "status": "RUNNING",
                       "worker_ids": [worker_id], "args": ["hello"], "note": "hello"}
    assert results["context"].worker_ids == [worker_id]
    # Signals: started then finished for each task, sent in slot processes.
    sent = signals(queue_env)
    for result in results.values():
        mine = [(s, st) for s, i, st, _ in sent if i == result.id]
        assert mine == [("started", "RUNNING"), ("finished", "SUCCESSFUL")]
    assert {pid for *_, pid in sent}.isdisjoint({os.getpid(), worker.proc.pid})
    assert described["pid"] in {pid for *_, pid in sent}
    assert not [line for line in sent if line[1] == never.id]


def test_errors_keep_tracebacks_and_retries_add_attempts(start_worker, queue_env):
    boom = pytasks.boom.enqueue("bad input")
    flaky = pytasks.flaky.enqueue(3)
    not_json = pytasks.returns_a_set.enqueue()
    start_worker("--concurrency", "2")
    wait_for(lambda: all(finished(r) for r in (boom, flaky, not_json)), timeout=30, message="tasks to finish")

    assert boom.status == TaskResultStatus.FAILED
    [error] = boom.errors
    assert error.exception_class is ValueError
    assert 'raise ValueError(message)' in error.traceback and "ValueError: bad input" in error.traceback
    with pytest.raises(ValueError):
        boom.return_value

    assert flaky.status == TaskResultStatus.SUCCESSFUL
    assert flaky.return_value == {"attempt": 3, "errors": 2}
    assert [e.exception_class for e in flaky.errors] == [ConnectionError, ConnectionError]
    assert flaky.attempts == 3 and len(flaky.worker_ids) == 3

    assert not_json.status == TaskResultStatus.FAILED
    assert "not JSON" in not_json.errors[0].traceback
    assert Task.objects.get(pk=not_json.id).last_error == (
        "TypeError: The handler returned a value that is not JSON: Unsupported type: <class 'set'>")

    sent = [(s, st) for s, i, st, _ in signals(queue_env) if i == flaky.id]
    assert sent == [("started", "RUNNING"), ("finished", "FAILED")] * 2 + [("started", "RUNNING"), ("finished", "SUCCESSFUL")]


def test_priorities_decide_the_order(start_worker):
    results = [pytasks.add.using(priority=p).enqueue(p, 0) for p in (1, 50, -5, 10, 0)]
    worker = start_worker("--concurrency", "1", "--burst")
    assert worker.wait() == 0
    for result in results:
        result.refresh()
    order = [r.return_value for r in sorted(results, key=lambda r: r.started_at)]
    assert order == [50, 10, 1, 0, -5]


def test_refresh_across_processes_sees_it_run_and_report_progress(start_worker, api):  # noqa: F811
    result = pytasks.steps.enqueue(5, 0.4)
    start_worker("--concurrency", "1")

    def running():
        result.refresh()
        return result.status == TaskResultStatus.RUNNING

    wait_for(running, message="RUNNING")

    def midway():
        body = api.get(f"/api/tasks/{result.id}").json()
        return body if body["progress"] is not None and 0 < body["progress"] < 1 else None

    seen = wait_for(midway, message="progress between 0 and 1")
    assert seen["status"] == "processing" and seen["progress_message"].startswith("step ")
    wait_for(lambda: finished(result), timeout=20, message="finish")
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 5
    row = Task.objects.get(pk=result.id)
    assert (row.progress, row.progress_message) == (1, "done")


def test_an_async_task_past_its_timeout_is_cancelled_and_its_slot_goes_on(start_worker, queue_env, tmp_path):
    marker = tmp_path / "cancelled"
    slow = pytasks.sleeps_async.enqueue(30, str(marker))
    after = pytasks.add.enqueue(1, 2)
    start_worker("--concurrency", "1")
    wait_for(lambda: finished(slow) and finished(after), timeout=30, message="both tasks")
    assert slow.status == TaskResultStatus.FAILED and slow.errors[0].exception_class is TaskTimeout
    assert marker.read_text() == "cancelled"
    assert after.return_value == 3
    pids = {i: pid for s, i, _, pid in signals(queue_env) if s == "finished"}
    assert pids[slow.id] == pids[after.id]  # the same slot process: it was not replaced


@pytest.mark.parametrize("task_name", ["dedup", "throttled"])
def test_unique_keys_hold_under_concurrent_producer_processes(transactional_db, task_name):
    # Six processes enqueue the same arguments at once, half of them holding
    # their transaction open for a while.
    ids = concurrency.run_together(
        concurrency.produce, [(task_name, 7, 0.2 * (i % 2)) for i in range(6)],
        database_url=database_url_for_tests(),
    )
    assert len(ids) == 6 and len(set(ids)) == 1
    assert Task.objects.filter(type=f"tests.pytasks.{task_name}").count() == 1
    assert default_task_backend.get_result(ids[0]).args == [7]
