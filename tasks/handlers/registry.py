"""The registry of task types: a name from the network maps to a handler here,
and is never imported as a path.

    from tasks.handlers.registry import register

    @register("thumbnail")
    def make_thumbnail(payload):
        ...
        return {"path": out}

A handler takes the payload and returns any JSON value, which becomes the task's
result. `tasks.context.current_job()` gives the running job (id, attempt...).
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from tasks import conf
from tasks.exceptions import UnknownTaskType

Validator = Callable[[Any], None]


@dataclass(frozen=True)
class Handler:
    name: str
    func: Callable[[Any], Any]
    # Checks a payload at enqueue time; raises ValueError with a sentence that says why.
    validate: Validator | None = None
    # Whether the REST API may create tasks of this type.
    exposed: bool = True


_handlers: dict[str, Handler] = {}


def register(name: str, func: Callable | None = None, *, validate: Validator | None = None, exposed: bool = True):
    """Register `func` as the handler of type `name`; usable as a decorator."""

    def decorate(f: Callable) -> Callable:
        _handlers[name] = Handler(name=name, func=f, validate=validate, exposed=exposed)
        return f

    return decorate(func) if func is not None else decorate


def get(name: str) -> Handler:
    try:
        return _handlers[name]
    except KeyError:
        raise UnknownTaskType(name) from None


def exposed_names() -> list[str]:
    return sorted(name for name, handler in _handlers.items() if handler.exposed)


def load_modules() -> None:
    """Import the modules named in QUEUE_HANDLER_MODULES, so their handlers register."""
    for module in conf.get("HANDLER_MODULES"):
        import_module(module)
