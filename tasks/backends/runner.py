"""How a worker's slot runs a Django `@task` function: as Django describes it.

The registry handler of a @task (see functions.py) turns the job into the
function's call: a TaskResult of the running attempt (what `takes_context`
functions and the task_started / task_finished receivers see), the signals
around the call, and the return value as JSON.

The TaskResult of a first attempt is built from the job itself: the claim
returned every field it needs (id, arguments, queue, priority, times), and the
worker is the only one. Reading the row back instead cost a round trip per
task, the largest part of a no-op task's time. A later attempt reads the row,
whose history holds the earlier attempts' errors and workers.
"""

import asyncio
import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from inspect import iscoroutinefunction
from typing import Any

from django.tasks import Task, TaskContext, TaskResult
from django.tasks.base import TaskError, TaskResultStatus
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_finished, task_started
from django.utils.json import normalize_json

from tasks.context import current_job, report_progress
from tasks.exceptions import NOT_JSON, traced
from tasks.jobs import Job

logger = logging.getLogger("tasks.backends")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTaskContext(TaskContext):
    """Django's TaskContext, plus progress reports."""

    def report_progress(self, value: float | None, message: str = "") -> bool:
        return report_progress(value, message)


_RESULT_FIELDS = tuple(f.name for f in fields(TaskResult))
_set = object.__setattr__


def task_result(**values: Any) -> TaskResult:
    """A TaskResult of these field values (`args` and `kwargs` already JSON).

    TaskResult's own __init__ sets each field of the frozen dataclass and then
    normalizes `args` and `kwargs` again: more than half the cost of a no-op
    task's result, paid per task by workers and bulk enqueues. A field Django
    adds one day without a value here raises KeyError, in the tests first."""
    values.setdefault("_return_value", None)
    result = object.__new__(TaskResult)
    for name in _RESULT_FIELDS:
        _set(result, name, values[name])
    return result


def split_payload(payload: Any) -> tuple[list, dict]:
    """(args, kwargs) of a Python task's payload, {"args": [...], "kwargs": {...}}."""
    payload = payload or {}
    return list(payload.get("args", [])), dict(payload.get("kwargs", {}))


# Copies of tasks with another priority or queue, as rows ask for them: making
# one (Task.using validates it again) cost more than running a no-op task.
_variants: dict[tuple[int, int, str], tuple[Task, Task]] = {}
_VARIANTS_MAX = 1024


def as_row(task: Task, priority: int, queue: str, run_after: datetime | None) -> Task:
    """`task` with a row's priority, queue and run time; the task itself when they match."""
    if priority == task.priority and queue == task.queue_name and run_after == task.run_after:
        return task
    key = (id(task), priority, queue)
    if run_after is None and (known := _variants.get(key)) is not None and known[0] is task:
        return known[1]
    try:
        variant = task.using(priority=priority, queue_name=queue, run_after=run_after)
    except InvalidTask:
        # A queue outside the backend's QUEUES (created over REST): the task as defined.
        variant = task
    if run_after is None:
        if len(_variants) >= _VARIANTS_MAX:
            _variants.clear()
        _variants[key] = (task, variant)  # the task is kept, so its id is not reused
    return variant


def handler_for(task: Task):
    """The registry handler of `task`: runs it in a slot process."""
    is_async = iscoroutinefunction(task.func)  # asked once: inspect's answer costs as much as a no-op task
    backends = {}  # the task's backend, looked up once per process (settings do not change in a slot)

    def run(payload: Any) -> Any:
        job = current_job()
        backend = backends.get(task.backend) or backends.setdefault(task.backend, task.get_backend())
        result = running_result(task, job, payload, backend)
        if heard(task_started, logging.INFO):
            task_started.send(type(backend), task_result=result)
        try:
            args, kwargs = result.args, result.kwargs
            if task.takes_context:
                args = [QueueTaskContext(task_result=result), *args]
            value = _call(task, args, kwargs, is_async)
            try:
                value = normalize_json(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{NOT_JSON}: {exc}") from exc
        except BaseException as exc:
            result.errors.append(TaskError(exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
                                           traceback=traced(exc)["traceback"]))
            _finish(backend, result, TaskResultStatus.FAILED)
            raise
        object.__setattr__(result, "_return_value", value)
        _finish(backend, result, TaskResultStatus.SUCCESSFUL)
        return value

    return run


def running_result(task: Task, job: Job, payload: Any, backend) -> TaskResult:
    """The TaskResult of the attempt `job` is, status RUNNING."""
    if job.attempt > 1 or job.retry_count:
        return backend.get_result(str(job.id))
    args, kwargs = split_payload(payload)  # JSON already: they were read from it
    created = datetime.fromtimestamp(job.created_at, UTC)
    run_after = datetime.fromtimestamp(job.run_at, UTC) if job.run_at > job.created_at else None
    now = datetime.now(UTC)
    return task_result(
        task=as_row(task, job.priority, job.queue, run_after), id=str(job.id), status=TaskResultStatus.RUNNING,
        enqueued_at=created, started_at=now, finished_at=None, last_attempted_at=now, args=args, kwargs=kwargs,
        backend=backend.alias, errors=[], worker_ids=[str(job.worker_id)],
    )


# Django connects one receiver of its own to each task signal: it logs the task
# on the "django.tasks" logger. When that is the only receiver and the logger
# would drop the record, sending the signal has no effect but its cost, which
# was a tenth of a no-op task's time in a slot (and a sixth of a bulk enqueue's row).
_DJANGO_TASKS_LOGGER = logging.getLogger("django.tasks")


def heard(signal, level: int) -> bool:
    """Whether sending `signal` would do anything: another receiver, or a log line."""
    return len(signal.receivers) > 1 or _DJANGO_TASKS_LOGGER.isEnabledFor(level)


def _call(task: Task, args: list, kwargs: dict, is_async: bool) -> Any:
    if is_async:
        # Not Task.call: its async_to_sync runs the event loop in another thread,
        # where the timeout (SIGALRM, raised in this thread) cannot stop the
        # coroutine. Here the loop runs in this thread; on timeout, asyncio.run
        # cancels the coroutine before re-raising.
        return asyncio.run(task.func(*args, **kwargs))
    return task.func(*args, **kwargs)


def _finish(backend, result: TaskResult, status: TaskResultStatus) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", datetime.now(UTC))
    if not heard(task_finished, logging.ERROR if status == TaskResultStatus.FAILED else logging.INFO):
        return
    # A receiver's error must not change the outcome the task already has.
    for receiver, response in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(response, Exception):
            logger.error("task_finished receiver %r raised %r", receiver, response, exc_info=response)
