"""Workers run @task functions defined in modules they did not import at start-up,
by the module their rows record, and never import a module a row's type merely
names. (That the billing app's tasks run with no setting at all is in
tests/test_django_tasks_contract.py.)"""

from pathlib import Path

import pytest

from tasks.models import Task, TaskStatus
from tests.billing.jobs import invoices
from tests.factories import TaskFactory

pytestmark = pytest.mark.slow

TRAP = "tests.billing.jobs.trap"


def test_a_recorded_module_is_imported_and_its_task_runs(start_worker, queue_env):
    row = TaskFactory(type=f"{TRAP}.sprung", module=TRAP, payload={"args": []}, max_retries=0)
    assert start_worker("--burst", "--concurrency", "1").wait() == 0
    row.refresh_from_db()
    assert (row.status, row.result) == (TaskStatus.COMPLETED, "imported and run")
    assert Path(queue_env["TASKQUEUE_TEST_LOG"] + ".imported").exists()


def test_a_type_that_looks_like_a_path_is_never_imported(start_worker, queue_env):
    # A row no producer's registry described (an old row, or a name typed anywhere):
    # its type is looked up, never imported.
    row = TaskFactory(type=f"{TRAP}.sprung", payload={"args": []}, max_retries=0)
    assert start_worker("--burst", "--concurrency", "1").wait() == 0
    row.refresh_from_db()
    assert row.status == TaskStatus.FAILED and row.last_error.startswith("UnknownTaskType")
    assert not Path(queue_env["TASKQUEUE_TEST_LOG"] + ".imported").exists()


@pytest.mark.parametrize("module, says", [
    ("tests.billing.jobs.gone", "could not import (ModuleNotFoundError"),
    ("tests.billing.jobs.invoices", "defines no task type"),
])
def test_a_module_that_fails_to_give_the_task_fails_it_with_the_reason(start_worker, module, says):
    row = TaskFactory(type="tests.billing.jobs.invoices.renamed", module=module, payload={"args": []},
                      max_retries=0)
    assert start_worker("--burst", "--concurrency", "1").wait() == 0
    row.refresh_from_db()
    assert row.status == TaskStatus.FAILED and row.errors[0]["type"] == "tasks.exceptions.TaskNotFound"
    assert says in row.last_error and module in row.last_error


@pytest.mark.django_db
def test_rows_of_python_tasks_record_their_module():
    assert Task.objects.get(pk=invoices.total.enqueue([1]).id).module == "tests.billing.jobs.invoices"
