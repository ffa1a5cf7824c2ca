"""Django `@task` functions as task types of this queue.

    from django.tasks import task

    @task(max_retries=5, timeout=60, retry_backoff=10, unique=True)
    def send_invoice(invoice_id: int) -> dict:
        ...

`QueueTask` is the backend's `task_class`: Django's Task plus this queue's
per-task options. Defining one registers it in `tasks.registry` under its type
name: the function's dotted path, or the name given as `expose=` (which also
lets the REST API create it). Workers find the function through that registry,
filled when they import the modules that define tasks (each installed app's
`tasks` module, and QUEUE_HANDLER_MODULES); a name read from the database or the
network is looked up there, never imported.
"""

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from inspect import iscoroutinefunction, signature
from typing import Any

from django.apps import apps
from django.tasks import Task, TaskContext
from django.tasks.base import TaskError, TaskResultStatus
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import autodiscover_modules

from tasks import conf, validation
from tasks.context import current_job, report_progress
from tasks.exceptions import NOT_JSON, UnknownTaskType, traced
from tasks.handlers import registry

logger = logging.getLogger("tasks.backends")

OPTIONS = ("max_retries", "timeout", "retry_backoff", "unique", "unique_key")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTask(Task):
    """A Django Task with this queue's options; `None` means the queue's default."""

    max_retries: int | None = None  # automatic retries (QUEUE_DEFAULT_MAX_RETRIES)
    timeout: float | None = None  # seconds per attempt (QUEUE_DEFAULT_TIMEOUT)
    retry_backoff: float | None = None  # backoff base in seconds (QUEUE_RETRY_BASE)
    # True: one active task per type and arguments; a number of seconds (or a
    # timedelta): also none enqueued that recently, even if it has finished.
    unique: bool | float | timedelta = False
    unique_key: str | None = None  # an explicit key, usually set with .using()
    expose: str | None = None  # a type name under which the REST API may create it

    def __post_init__(self):
        # Zero-argument super() does not work in slotted dataclasses.
        Task.__post_init__(self)
        _define(self)

    @property
    def type_name(self) -> str:
        """The `type` of this task's rows."""
        return self.expose or self.module_path

    def using(self, *, priority=None, queue_name=None, run_after=None, backend=None, **options) -> "QueueTask":
        """Django's `using`, plus max_retries, timeout, retry_backoff, unique and unique_key."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(f"using() got unknown options: {', '.join(unknown)}.")
        task = Task.using(self, priority=priority, queue_name=queue_name, run_after=run_after, backend=backend)
        changes = {name: value for name, value in options.items() if value is not None}
        return replace(task, **changes) if changes else task

    def row_options(self) -> dict[str, Any]:
        """Options of `tasks.queue.build` that this task sets."""
        return {
            "queue": self.queue_name,
            "priority": self.priority,
            "run_at": self.run_after,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
            "retry_backoff": self.retry_backoff,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTaskContext(TaskContext):
    """Django's TaskContext, plus progress reports."""

    def report_progress(self, value: float | None, message: str = "") -> bool:
        return report_progress(value, message)


_tasks: dict[str, QueueTask] = {}


def get(type_name: str) -> QueueTask | None:
    """The @task function registered under `type_name`, if it is one."""
    return _tasks.get(type_name)


def options_for(type_name: str) -> dict[str, Any]:
    """Row options a type's @task declares (retries, timeout, backoff); {} for other types."""
    task = _tasks.get(type_name)
    if task is None:
        return {}
    return {"max_retries": task.max_retries, "timeout": task.timeout, "retry_backoff": task.retry_backoff}


def validate_options(task: QueueTask) -> None:
    """Raise InvalidTask for an option this queue cannot honour."""
    name = task.type_name
    if not isinstance(name, str) or not validation.QUEUE_NAME.match(name):
        raise InvalidTask(
            f"The task type name {name!r} must be 1 to 100 letters, digits or _ . : - ; "
            "pass a shorter expose= name."
        )
    problems = [
        task.max_retries is not None and validation.max_retries_error(task.max_retries),
        validation.timeout_error(task.timeout),
        validation.retry_backoff_error(task.retry_backoff),
        unique_error(task.unique),
        task.unique_key is not None and not (isinstance(task.unique_key, str) and 1 <= len(task.unique_key) <= 255)
        and "unique_key must be a string of 1 to 255 characters.",
    ]
    if message := next((p for p in problems if p), None):
        raise InvalidTask(message)


def unique_error(value) -> str | None:
    if isinstance(value, bool):
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not isinstance(seconds, int | float) or seconds <= 0:
        return "unique is True, or a window: a positive number of seconds or a timedelta."
    return None


def autodiscover() -> None:
    """Import each installed app's task module (QUEUE_AUTODISCOVER, default `tasks`)."""
    if name := conf.get("AUTODISCOVER"):
        autodiscover_modules(name)


def _define(task: QueueTask) -> None:
    """Register a newly defined task (copies made by .using() are already known)."""
    name = task.type_name
    known = _tasks.get(name)
    if known is not None and known.func is task.func:
        return
    if (known is not None and known.module_path != task.module_path) or (known is None and _registered(name)):
        raise InvalidTask(f"The task type name {name!r} is already taken; choose another expose= name.")
    _tasks[name] = task
    registry.register(name, _runner(task), validate=_payload_check(task), exposed=task.expose is not None)
    if apps.ready and not _loaded_by_workers(task.func.__module__):
        logger.warning(
            "Task %s was defined after Django started, so worker processes may not know it. "
            "Define tasks in an app's %r module, or list their module in QUEUE_HANDLER_MODULES.",
            task.module_path, conf.get("AUTODISCOVER") or "tasks",
        )


def _registered(name: str) -> bool:
    try:
        registry.get(name)
    except UnknownTaskType:
        return False
    return True


def _loaded_by_workers(module: str) -> bool:
    autodiscovered = conf.get("AUTODISCOVER")
    return module in conf.get("HANDLER_MODULES") or bool(autodiscovered) and module.endswith(f".{autodiscovered}")


def split_payload(payload: Any) -> tuple[list, dict]:
    """(args, kwargs) of a Python task's payload, {"args": [...], "kwargs": {...}}."""
    payload = payload or {}
    return list(payload.get("args", [])), dict(payload.get("kwargs", {}))


def _payload_check(task: QueueTask):
    params = signature(task.func)

    def check(payload: Any) -> None:
        shape_ok = payload is None or (
            isinstance(payload, dict) and set(payload) <= {"args", "kwargs"}
            and isinstance(payload.get("args", []), list) and isinstance(payload.get("kwargs", {}), dict)
        )
        if not shape_ok:
            raise ValueError('The payload of a Python task is {"args": [...], "kwargs": {...}}.')
        args, kwargs = split_payload(payload)
        try:
            params.bind(*([None] if task.takes_context else []), *args, **kwargs)
        except TypeError as exc:
            raise ValueError(f"The arguments do not fit {task.name}{params}: {exc}.") from None

    return check


def _runner(task: QueueTask):
    """The registry handler of `task`: runs it in a slot process, as Django describes."""

    def run(payload: Any) -> Any:
        args, kwargs = split_payload(payload)
        backend = task.get_backend()
        # The live row: status RUNNING, the attempts so far, the arguments.
        result = backend.get_result(str(current_job().id))
        task_started.send(type(backend), task_result=result)
        try:
            if task.takes_context:
                args = [QueueTaskContext(task_result=result), *args]
            value = _call(task, args, kwargs)
            try:
                value = normalize_json(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{NOT_JSON}: {exc}") from exc
        except BaseException as exc:
            kind = type(exc)
            result.errors.append(TaskError(
                exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
                traceback=traced(exc)["traceback"],
            ))
            _finish(backend, result, TaskResultStatus.FAILED)
            raise
        object.__setattr__(result, "_return_value", value)
        _finish(backend, result, TaskResultStatus.SUCCESSFUL)
        return value

    return run


def _call(task: QueueTask, args: list, kwargs: dict) -> Any:
    if iscoroutinefunction(task.func):
        # Not Task.call: its async_to_sync runs the event loop in another thread,
        # where the timeout (SIGALRM, raised in this thread) cannot stop the
        # coroutine. Here the loop runs in this thread; on timeout, asyncio.run
        # cancels the coroutine before re-raising.
        return asyncio.run(task.func(*args, **kwargs))
    return task.func(*args, **kwargs)


def _finish(backend, result, status: TaskResultStatus) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", timezone.now())
    # A receiver's error must not change the outcome the task already has.
    for receiver, response in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(response, Exception):
            logger.error("task_finished receiver %r raised %r", receiver, response, exc_info=response)
