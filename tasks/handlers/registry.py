"""The registry of task types: a name from the network maps to a handler here,
and is never imported as a path.

    from tasks.handlers.registry import register

    @register("thumbnail")
    def make_thumbnail(payload):
        ...
        return {"path": out}

A handler takes the payload and returns any JSON value, which becomes the task's
result. `tasks.context.current_job()` gives the running job (id, attempt...).

Django `@task` functions register here too (tasks/backends/functions.py), with
what they declare: the module that defines them, their row options and their
unique key. `tasks.queue.build` applies those to every task of the type,
however it is created (Python, REST, a schedule, the command line).
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from tasks import conf
from tasks.exceptions import TaskNotFound, UnknownTaskType

Validator = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    func: Callable[[Any], Any]
    # Checks a payload at enqueue time; raises ValueError with a sentence that says why.
    validate: Validator | None = None
    # Whether the REST API may create tasks of this type.
    exposed: bool = True
    # The module that defines the type, recorded on its rows so that a worker
    # that has not imported it can (see `load`); set for @task functions.
    module: str = ""
    # The row options the type declares (max_retries, timeout, retry_backoff),
    # read when a task is built: the defaults of every path that creates one.
    defaults: Callable[[], dict[str, Any]] | None = None
    # A payload's unique key, for types declared unique; and how long the key
    # stays held after the task was enqueued (seconds; None: while it is active).
    unique_key: Callable[[Any], str | None] | None = None
    unique_window: float | None = None


_handlers: dict[str, Handler] = {}


def register(name: str, func: Callable | None = None, *, validate: Validator | None = None, exposed: bool = True,
             **declared: Any):
    """Register `func` as the handler of type `name`; usable as a decorator.

    `declared` sets the other fields of Handler (module, defaults, unique_key,
    unique_window), as @task functions do."""

    def decorate(f: Callable) -> Callable:
        _handlers[name] = Handler(name=name, func=f, validate=validate, exposed=exposed, **declared)
        return f

    return decorate(func) if func is not None else decorate


def get(name: str) -> Handler:
    try:
        return _handlers[name]
    except KeyError:
        raise UnknownTaskType(name) from None


def find(name: str) -> Handler | None:
    """The handler of `name`, or None."""
    return _handlers.get(name)


def load(name: str, module: str) -> Handler:
    """The handler of `name`, importing `module` first when `name` is not known yet.

    `module` must come from this process's own code: the module a producer's
    registry recorded on the row, never a name read from the network. This is
    how a worker runs a @task defined in a module it did not import at
    start-up, as Django's database backends import a task by its path.
    """
    if (handler := _handlers.get(name)) is not None or not module:
        return handler or get(name)
    try:
        import_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure to import is the task's failure, said plainly
        raise TaskNotFound(
            f"Task type {name!r} is defined in module {module!r}, which this worker could not import "
            f"({type(exc).__name__}: {exc}). Deploy the same code to producers and workers."
        ) from exc
    if (handler := _handlers.get(name)) is None:
        raise TaskNotFound(f"Module {module!r} was imported but defines no task type {name!r}; "
                           "was the task renamed or removed?")
    return handler


def exposed_names() -> list[str]:
    return sorted(name for name, handler in _handlers.items() if handler.exposed)


def load_modules() -> None:
    """Import the modules named in QUEUE_HANDLER_MODULES, so their handlers register."""
    for module in conf.get("HANDLER_MODULES"):
        import_module(module)
