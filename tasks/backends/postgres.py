"""The django.tasks backend: `@task` functions enqueue into this queue.

    TASKS = {"default": {"BACKEND": "tasks.backends.PostgresBackend",
                         "OPTIONS": {"max_retries": 3}}}   # OPTIONS: optional

`enqueue` inserts a task row in the caller's transaction (a task enqueued in a
transaction that rolls back never exists; one committed is never lost), and
workers run it with retries, timeouts and crash recovery. Results are read
from the row, from any process.

OPTIONS set defaults for this backend's tasks: `max_retries` (0, as Django's
other backends: a task that raises has FAILED), `timeout` and `retry_backoff`
(the QUEUE_* settings). A task's own `@task(max_retries=...)` wins.
"""

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.tasks import TaskResult
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json

from tasks import queue
from tasks.backends import functions, periodic, results, runner, unique
from tasks.models import Task

# Tasks this backend has validated, by identity (a Task is immutable): most
# enqueues are of a module-level task validated when it was defined, and
# Django's check of the function (its signature) is the dearest part of one.
_VALIDATED_MAX = 1024


class PostgresBackend(BaseTaskBackend):
    task_class = functions.QueueTask

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        if message := functions.backend_options_error(self.options):
            raise ImproperlyConfigured(f"TASKS[{alias!r}]: {message}")
        self._validated: dict[int, functions.QueueTask] = {}

    def validate_task(self, task) -> None:
        if self._validated.get(id(task)) is task:
            return
        super().validate_task(task)
        if isinstance(task, functions.QueueTask):
            functions.validate_options(task)
        if len(self._validated) >= _VALIDATED_MAX:
            self._validated.clear()
        self._validated[id(task)] = task  # kept alive, so its id is not reused

    def enqueue(self, task: functions.QueueTask, args, kwargs) -> TaskResult:
        """Insert the task in the caller's transaction; with a unique key already
        held, return the task that holds it (and send no task_enqueued)."""
        self.validate_task(task)
        if not isinstance(task, functions.QueueTask):
            raise InvalidTask("Define the function with django.tasks' @task decorator so that workers can find it.")
        payload = _payload(args, kwargs)
        row = self._build(task, payload, task.row_options())
        row, created = queue.insert(row, unique_window=unique.window_seconds(task.unique))
        if not created:
            return results.to_result(row, self.alias)
        result = results.enqueued(task, row, payload["args"], payload["kwargs"], self.alias)
        if runner.heard(task_enqueued, logging.DEBUG):
            task_enqueued.send(type(self), task_result=result)
        return result

    def enqueue_many(self, task: functions.QueueTask, calls: Iterable[tuple | list | dict]) -> list[TaskResult]:
        """Insert one task per call in one statement (see QueueTask.enqueue_many)."""
        self.validate_task(task)
        payloads = [_payload(*_split_call(call)) for call in calls]
        options = {**task.row_options(), "now": timezone.now()}  # one enqueue time for the batch
        if task.unique is False and task.unique_key is None:
            try:
                rows = queue.build_many(task.type_name, payloads, declared=False, **options)
            except ValidationError as exc:
                raise InvalidTask(_sentence(exc)) from exc
        else:
            rows = [self._build(task, payload, options) for payload in payloads]
        answer, send = [], runner.heard(task_enqueued, logging.DEBUG)
        for built, row in zip(rows, queue.enqueue_many(rows)):
            if row is not built:  # a unique key another task holds
                answer.append(results.to_result(row, self.alias))
                continue
            result = results.enqueued(task, row, row.payload["args"], row.payload["kwargs"], self.alias)
            if send:
                task_enqueued.send(type(self), task_result=result)
            answer.append(result)
        return answer

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

    @staticmethod
    def _build(task: functions.QueueTask, payload: dict, options: dict) -> Task:
        try:
            return queue.build(task.type_name, payload, unique_key=task.key_for(payload), declared=False, **options)
        except ValidationError as exc:
            raise InvalidTask(_sentence(exc)) from exc


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _payload(args, kwargs) -> dict:
    """Django's normalized arguments (tuples as lists, bytes as text...), as the payload."""
    # Arguments that are all plain values are normal already (most calls): skip the walk.
    if all(type(value) in _SCALARS for value in args) and all(
            type(value) in _SCALARS and type(key) is str for key, value in kwargs.items()):
        return {"args": list(args), "kwargs": dict(kwargs)}
    try:
        return {"args": normalize_json(list(args)), "kwargs": normalize_json(dict(kwargs))}
    except (TypeError, ValueError) as exc:
        raise InvalidTask(f"Task arguments must be JSON values: {exc}.") from exc


def _split_call(call: tuple | list | dict) -> tuple[tuple | list, dict]:
    if isinstance(call, dict):
        return (), call
    if isinstance(call, tuple | list):
        return call, {}
    raise InvalidTask(f"Each call of enqueue_many is a tuple of arguments or a dict of keyword arguments, "
                      f"not {type(call).__name__}.")


def _task_id(result_id: Any) -> UUID:
    try:
        return UUID(str(result_id))
    except ValueError:
        raise TaskResultDoesNotExist(result_id) from None


def _sentence(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)
