"""The django.tasks backend: `@task` functions enqueue into this queue.

    TASKS = {"default": {"BACKEND": "tasks.backends.PostgresBackend"}}

`enqueue` inserts a task row in the caller's transaction (a task enqueued in a
transaction that rolls back never exists; one committed is never lost), and
workers run it with retries, timeouts and crash recovery. Results are read
from the row, from any process.
"""

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.tasks import TaskResult
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils.json import normalize_json

from tasks import queue
from tasks.backends import functions, periodic, results, unique
from tasks.models import Task


class PostgresBackend(BaseTaskBackend):
    task_class = functions.QueueTask

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def validate_task(self, task) -> None:
        super().validate_task(task)
        if isinstance(task, functions.QueueTask):
            functions.validate_options(task)

    def enqueue(self, task: functions.QueueTask, args, kwargs) -> TaskResult:
        """Insert the task in the caller's transaction; with a unique key already
        held, return the task that holds it (and send no task_enqueued)."""
        self.validate_task(task)
        if not isinstance(task, functions.QueueTask):
            raise InvalidTask("Define the function with django.tasks' @task decorator so that workers can find it.")
        try:
            payload = {"args": normalize_json(list(args)), "kwargs": normalize_json(dict(kwargs))}
        except (TypeError, ValueError) as exc:
            raise InvalidTask(f"Task arguments must be JSON values: {exc}.") from exc
        key = unique.key_for(task, payload)
        try:
            row = queue.build(task.type_name, payload, unique_key=key, **task.row_options())
            row, created = queue.insert(row, unique_window=unique.window_seconds(task.unique))
        except ValidationError as exc:
            raise InvalidTask(_sentence(exc)) from exc
        result = results.to_result(row, self.alias)
        if created:
            task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: Any) -> TaskResult:
        try:
            row = Task.objects.get(pk=_task_id(result_id))
        except Task.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return results.to_result(row, self.alias)

    async def aget_result(self, result_id: Any) -> TaskResult:
        pk = _task_id(result_id)
        try:
            row = await Task.objects.aget(pk=pk)
        except Task.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return results.to_result(row, self.alias)

    def check(self, **kwargs):
        return periodic.check_declared()


def _task_id(result_id: Any) -> UUID:
    try:
        return UUID(str(result_id))
    except ValueError:
        raise TaskResultDoesNotExist(result_id) from None


def _sentence(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)
