"""Django `@task` functions as task types of this queue.

    from django.tasks import task

    @task(max_retries=5, timeout=60, retry_backoff=10, unique=True)
    def send_invoice(invoice_id: int) -> dict:
        ...

`QueueTask` is the backend's `task_class`: Django's Task plus this queue's
per-task options. Defining one registers it in tasks.handlers.registry under
its type name (the function's dotted path, or the name given as `expose=`,
which also lets the REST API create it), with its module, its options and its
unique key, so that every path that creates the task applies them.

Workers know the tasks of the modules they import at start-up (each installed
app's `tasks` module, and QUEUE_HANDLER_MODULES). A task defined anywhere else
still runs: its rows record its module, and a worker that meets a type it does
not know imports that module (tasks.handlers.registry.load). A type name read
from the database or the network is never imported.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from inspect import Parameter, signature
from typing import Any

from django.tasks import Task, TaskResult
from django.tasks.exceptions import InvalidTask
from django.utils.module_loading import autodiscover_modules

from tasks import conf, validation
from tasks.backends import runner, unique
from tasks.handlers import registry

OPTIONS = ("max_retries", "timeout", "retry_backoff", "unique", "unique_key")
# Options a backend's OPTIONS may set for its tasks ("max_retries" defaults to 0,
# as under Django's other backends: a task that raises has failed).
BACKEND_OPTIONS = ("max_retries", "timeout", "retry_backoff")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTask(Task):
    """A Django Task with this queue's options; `None` means the backend's default."""

    max_retries: int | None = None  # automatic retries (the backend's OPTIONS, else 0)
    timeout: float | None = None  # seconds per attempt (OPTIONS, else QUEUE_DEFAULT_TIMEOUT)
    retry_backoff: float | None = None  # backoff base in seconds (OPTIONS, else QUEUE_RETRY_BASE)
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

    def enqueue_many(self, calls: Iterable[tuple | list | dict]) -> list[TaskResult]:
        """Enqueue one task per call in one statement, all or nothing; their TaskResults, in order.

        Each call is the positional arguments (a tuple or list) or the keyword
        arguments (a dict) of one run: `send.enqueue_many([(1,), (2,)])`."""
        return self.get_backend().enqueue_many(self, calls)

    def declared_options(self) -> dict[str, Any]:
        """Retries, timeout and backoff of this task's rows: its own, else its backend's OPTIONS."""
        defaults = self.get_backend().options
        return {
            "max_retries": defaults.get("max_retries", 0) if self.max_retries is None else self.max_retries,
            "timeout": defaults.get("timeout") if self.timeout is None else self.timeout,
            "retry_backoff": defaults.get("retry_backoff") if self.retry_backoff is None else self.retry_backoff,
        }

    def row_options(self) -> dict[str, Any]:
        """Options of `tasks.queue.build` that this task sets."""
        return {"queue": self.queue_name, "priority": self.priority, "run_at": self.run_after,
                **self.declared_options()}

    def key_for(self, payload: Any) -> str | None:
        """The unique key of a payload of this task, or None when it is not unique.

        The same arguments give the same key however they were sent
        (`{"args": [1]}` over REST, `{"args": [1], "kwargs": {}}` from Python)."""
        args, kwargs = runner.split_payload(payload)
        return unique.key_for(self.type_name, self.unique, self.unique_key, {"args": args, "kwargs": kwargs})


_tasks: dict[str, QueueTask] = {}


def get(type_name: str) -> QueueTask | None:
    """The @task function registered under `type_name`, if it is one."""
    return _tasks.get(type_name)


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
        unique.error(task.unique),
        task.unique_key is not None and not (isinstance(task.unique_key, str) and 1 <= len(task.unique_key) <= 255)
        and "unique_key must be a string of 1 to 255 characters.",
    ]
    if message := next((p for p in problems if p), None):
        raise InvalidTask(message)


def backend_options_error(options: dict) -> str | None:
    """What is wrong with a PostgresBackend's OPTIONS, if anything."""
    unknown = sorted(set(options) - set(BACKEND_OPTIONS))
    if unknown:
        return f"Unknown OPTIONS {', '.join(unknown)}; PostgresBackend takes {', '.join(BACKEND_OPTIONS)}."
    return next(filter(None, [
        "max_retries" in options and validation.max_retries_error(options["max_retries"]),
        validation.timeout_error(options.get("timeout")),
        validation.retry_backoff_error(options.get("retry_backoff")),
    ]), None)


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
    if (known is not None and known.module_path != task.module_path) or (known is None and registry.find(name)):
        raise InvalidTask(f"The task type name {name!r} is already taken; choose another expose= name.")
    _tasks[name] = task
    registry.register(
        name, runner.handler_for(task), validate=_payload_check(task), exposed=task.expose is not None,
        module=task.func.__module__, defaults=task.declared_options,
        unique_key=task.key_for if task.unique is not False or task.unique_key is not None else None,
        unique_window=unique.window_seconds(task.unique),
    )


def _payload_check(task: QueueTask):
    params = signature(task.func)
    skip = 1 if task.takes_context else 0
    positional = [p for p in params.parameters.values() if p.kind in (Parameter.POSITIONAL_ONLY,
                                                                       Parameter.POSITIONAL_OR_KEYWORD)][skip:]
    simple = len(positional) + skip == len(params.parameters)  # no *args, **kwargs or keyword-only
    least = sum(p.default is Parameter.empty for p in positional)

    def check(payload: Any) -> None:
        shape_ok = payload is None or (
            isinstance(payload, dict) and set(payload) <= {"args", "kwargs"}
            and isinstance(payload.get("args", []), list) and isinstance(payload.get("kwargs", {}), dict)
        )
        if not shape_ok:
            raise ValueError('The payload of a Python task is {"args": [...], "kwargs": {...}}.')
        args, kwargs = runner.split_payload(payload)
        if simple and not kwargs and least <= len(args) <= len(positional):
            return  # fits: Signature.bind would say so, slower (bulk enqueues check every row)
        try:
            params.bind(*([None] * skip), *args, **kwargs)
        except TypeError as exc:
            raise ValueError(f"The arguments do not fit {task.name}{params}: {exc}.") from None

    return check
