"""A task row as django.tasks sees it: a TaskResult.

Our statuses map onto Django's four; the row keeps the fine-grained one
(`TaskResult` is what Django code reads, the REST API and dashboard show ours).
"""

from django.tasks import Task as DjangoTask
from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist

from tasks.backends import functions, runner
from tasks.exceptions import UnknownTaskType
from tasks.handlers import registry
from tasks.models import Task, TaskStatus

DJANGO_STATUS = {
    TaskStatus.WAITING: TaskResultStatus.READY,
    TaskStatus.SCHEDULED: TaskResultStatus.READY,
    TaskStatus.PENDING: TaskResultStatus.READY,
    TaskStatus.PROCESSING: TaskResultStatus.RUNNING,
    TaskStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    TaskStatus.FAILED: TaskResultStatus.FAILED,
    TaskStatus.CANCELLED: TaskResultStatus.FAILED,
}

# Statuses in which the row's worker_id is an attempt not yet in `errors`.
_CURRENT_ATTEMPT = (TaskStatus.PROCESSING, TaskStatus.COMPLETED)


def enqueued(task: DjangoTask, row: Task, args: list, kwargs: dict, backend_alias: str) -> TaskResult:
    """The TaskResult of a row `task` has just inserted: READY, with no history."""
    return runner.task_result(
        task=task, id=str(row.id), status=TaskResultStatus.READY, enqueued_at=row.created_at, started_at=None,
        finished_at=None, last_attempted_at=None, args=args, kwargs=kwargs, backend=backend_alias, errors=[],
        worker_ids=[],
    )


def to_result(row: Task, backend_alias: str) -> TaskResult:
    """The TaskResult of a task row, whatever created it (Python, REST, a schedule)."""
    task = _task_of(row, backend_alias)
    if isinstance(task, functions.QueueTask):
        args, kwargs = runner.split_payload(row.payload)
    else:
        args, kwargs = [row.payload], {}
    result = TaskResult(
        task=task,
        id=str(row.id),
        status=DJANGO_STATUS[row.status],
        enqueued_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.completed_at,
        last_attempted_at=row.started_at,
        args=args,
        kwargs=kwargs,
        backend=backend_alias,
        errors=[
            TaskError(exception_class_path=entry.get("type", "Exception"), traceback=entry.get("traceback", ""))
            for entry in row.errors
        ],
        worker_ids=worker_ids(row),
    )
    if row.status == TaskStatus.COMPLETED:
        object.__setattr__(result, "_return_value", row.result)
    return result


def worker_ids(row: Task) -> list[str]:
    """One worker id per attempt: those of the failed ones, then the current one."""
    ids = [str(entry.get("worker", "")) for entry in row.errors]
    if row.status in _CURRENT_ATTEMPT and row.worker_id is not None:
        ids.append(str(row.worker_id))
    return ids


def _task_of(row: Task, backend_alias: str) -> DjangoTask:
    """The Task a row runs, with the row's priority, queue and run time."""
    run_after = row.run_at if row.run_at > row.created_at else None
    task = functions.get(row.type)
    if task is None:
        # A plain handler type (created over REST, say): its function, called with the payload.
        try:
            func = registry.get(row.type).func
        except UnknownTaskType:
            raise TaskResultDoesNotExist(
                f"Task {row.id} has type {row.type!r}, which no @task or handler in this process defines."
            ) from None
        try:
            return DjangoTask(func=func, backend=backend_alias, priority=row.priority,
                              queue_name=row.queue, run_after=run_after)
        except InvalidTask as exc:
            raise TaskResultDoesNotExist(f"Task {row.id} cannot be described as a django.tasks Task: {exc}") from exc
    return runner.as_row(task, row.priority, row.queue, run_after)
