"""Django's `django.tasks` API as its documentation describes it, checked against
this queue's backend and against django-tasks-db (the database backend Django
teams switch from), each run by its own worker process.

The tests speak Django's API only: `@task`, `enqueue`, `get_result`, `refresh`,
`TaskResult` and the signals. The tasks live in `tests/billing/jobs/invoices.py`,
a module no setting names: the worker must find them by themselves. The same
test passes for both backends, or the difference is a bug of ours. Runs of
django-tasks-db are skipped, saying why, when it is not installed.
"""

import asyncio
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection, transaction
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from tests.billing.jobs import invoices
from tests.support.processes import ROOT, WorkerProcess

pytestmark = pytest.mark.slow

QUEUES = ["default", "emails"]
BACKENDS = {
    "postgres": "tasks.backends.PostgresBackend",
    "django-tasks-db": "django_tasks_db.backend.DatabaseBackend",
}


class Backend:
    """The backend under test, and how to run its worker until nothing is left to run."""

    def __init__(self, name: str, env: dict, tmp_path: Path):
        self.name = name
        self.env = {**env, "QUEUE_HANDLER_MODULES": ""}  # no setting names the billing app's tasks
        self.tmp_path = tmp_path
        self.log = Path(env["TASKQUEUE_TEST_LOG"] + ".contract")

    def run_worker(self) -> None:
        if self.name == "postgres":
            worker = WorkerProcess(["--burst", "--concurrency", "1"], self.env, self.tmp_path / "worker.log")
            code = worker.wait(timeout=60)
            assert code == 0, worker.output
            return
        command = [sys.executable, "manage.py", "db_worker", "--batch", "--interval", "0", "--no-startup-delay",
                   "--no-reload", "--queue-name", "*", "-v", "0"]
        done = subprocess.run(command, cwd=ROOT, env={**self.env, "DJANGO_SETTINGS_MODULE": "tests.contract_settings"},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    def signals(self, result_id: str) -> list[tuple[str, str, int]]:
        """(signal, status, attempts) the worker's receivers saw for one task."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [(name, status, int(attempts)) for name, found, status, attempts in map(str.split, lines)
                if found == result_id]


@pytest.fixture(params=list(BACKENDS))
def backend(request, settings, transactional_db, queue_env, tmp_path):
    name = request.param
    if name == "django-tasks-db":
        pytest.importorskip("django_tasks_db", reason="django-tasks-db is not installed "
                            "(pip install django-tasks-db==0.13.0, as requirements.txt pins it)")
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_tasks_db"]
        call_command("migrate", "django_tasks_database", verbosity=0)
    settings.TASKS = {"default": {"BACKEND": BACKENDS[name], "QUEUES": QUEUES}}
    yield Backend(name, queue_env, tmp_path)
    if name == "django-tasks-db":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.all().delete()


def refreshed(result):
    result.refresh()
    return result


def seen_from_another_connection(result_id: str) -> bool:
    """Whether another thread (so another database connection) finds the result."""
    found = []

    def look():
        try:
            default_task_backend.get_result(result_id)
            found.append(True)
        except TaskResultDoesNotExist:
            found.append(False)
        finally:
            connection.close()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return found[0]


def test_a_task_runs_once_and_its_result_is_read_back(backend):
    result = invoices.total.enqueue([10, 20, 30], discount=5)
    assert result.status == TaskResultStatus.READY and not result.is_finished
    assert (result.args, result.kwargs) == ([[10, 20, 30]], {"discount": 5})
    with pytest.raises(ValueError, match="not finished"):
        result.return_value
    backend.run_worker()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 55
    assert result.attempts == 1 and len(result.worker_ids) == 1 and result.errors == []
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert backend.signals(result.id) == [("started", "RUNNING", 1), ("finished", "SUCCESSFUL", 1)]


def test_a_task_that_raises_has_failed_after_one_attempt(backend):
    result = invoices.refuse.enqueue("no purchase order")
    not_json = invoices.not_json.enqueue()
    backend.run_worker()
    for failed in (refreshed(result), refreshed(not_json)):
        assert failed.status == TaskResultStatus.FAILED and failed.attempts == 1
        with pytest.raises(ValueError, match="failed"):
            failed.return_value
    [error] = result.errors
    assert error.exception_class is ValueError and "no purchase order" in error.traceback
    assert not_json.errors[0].exception_class is TypeError
    assert backend.signals(result.id) == [("started", "RUNNING", 1), ("finished", "FAILED", 1)]


def test_context_and_async_functions(backend):
    described = invoices.describe_run.enqueue("first")
    later = invoices.total_later.enqueue([1, 2, 3])
    backend.run_worker()
    assert refreshed(described).return_value == {
        "id": described.id, "attempt": 1, "status": "RUNNING", "args": ["first"], "note": "first", "workers": 1}
    assert refreshed(later).return_value == 6


def test_enqueue_belongs_to_the_callers_transaction(backend):
    enqueued = []
    task_enqueued.connect(lambda sender, task_result, **kw: enqueued.append(task_result.id), weak=False,
                          dispatch_uid="contract")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            doomed = invoices.total.enqueue([1])
            raise RuntimeError("roll back")
        with transaction.atomic():
            kept = invoices.total.enqueue([2])
            assert not seen_from_another_connection(kept.id)  # not before the commit
        assert seen_from_another_connection(kept.id)
    finally:
        task_enqueued.disconnect(dispatch_uid="contract")
    assert enqueued == [doomed.id, kept.id]
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(doomed.id)
    backend.run_worker()
    assert refreshed(kept).return_value == 2
    assert backend.signals(doomed.id) == []


def test_run_after_priority_and_queue(backend):
    later = timezone.now() + timedelta(hours=1)
    deferred = invoices.total.using(run_after=later).enqueue([1])
    reminder = invoices.send_reminder.enqueue(7)
    assert (reminder.task.queue_name, reminder.task.priority) == ("emails", 20)
    ordered = [invoices.total.using(priority=p).enqueue([p]) for p in (1, 50, -5)]
    with pytest.raises(InvalidTask, match="priority"):
        invoices.total.using(priority=101)
    with pytest.raises(InvalidTask, match="Queue 'nowhere'"):
        invoices.total.using(queue_name="nowhere")
    backend.run_worker()
    assert refreshed(deferred).status == TaskResultStatus.READY and deferred.task.run_after == later
    assert refreshed(reminder).return_value == {"sent": 7}
    by_start = sorted((refreshed(r) for r in ordered), key=lambda r: r.started_at)
    assert [r.return_value for r in by_start[:2]] == [50, 1]  # higher priority first
    assert by_start[2].return_value == -5


def test_results_by_id_sync_and_async(backend):
    result = invoices.total.enqueue([4, 4])
    backend.run_worker()
    assert invoices.total.get_result(result.id).return_value == 8
    for unknown in ("not-an-id", "01a2130e-ce2c-7e7e-a10a-79a47b156ec5"):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(unknown)

    async def read():
        again = await invoices.total.aget_result(result.id)
        await result.arefresh()
        await sync_to_async(lambda: connection.close())()  # the async ORM thread's connection
        return again

    assert asyncio.run(read()).return_value == 8 and result.status == TaskResultStatus.SUCCESSFUL


def test_what_the_backend_cannot_run_is_refused(backend):
    def nested(x):
        return x

    with pytest.raises(InvalidTask, match="module level"):
        task(nested)
    with pytest.raises(InvalidTask, match="context"):
        task(takes_context=True)(invoices.total.func)

