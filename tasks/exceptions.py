"""The queue's errors, and the entries a task's `errors` history keeps of them.

Messages are whole sentences that say what to do.
"""

import traceback

NOT_JSON = "The handler returned a value that is not JSON"


class QueueError(Exception):
    """Base class for errors raised by the queue."""


class UnknownTaskType(QueueError):
    """The type names no registered handler."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Unknown task type {name!r}. Register a handler for it, or use a registered type.")


class TaskNotFound(QueueError):
    """A worker met a Python task whose module it could not import, or which
    that module does not define (code not deployed, renamed or removed)."""


class QueueFull(QueueError):
    """Backpressure: the queue holds as many pending tasks as it may."""


class TaskTimeout(Exception):
    """Raised inside a handler that ran past its timeout.

    Derives from Exception, not QueueError, so handlers that catch Exception
    see it, as they would see any other interruption.
    """


def traced(exc: BaseException) -> dict:
    """The `errors` entry of an exception a handler raised, with its traceback."""
    kind = type(exc)
    message = str(exc)
    if isinstance(exc, TypeError | ValueError) and "JSON" in message and not message.startswith(NOT_JSON):
        message = f"{NOT_JSON}: {message}"
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": message,
        "traceback": "".join(traceback.format_exception(exc)),
    }


def untraced(kind: type[BaseException], message: str) -> dict:
    """The `errors` entry of a failure that no handler raised, so there is no traceback."""
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": message, "traceback": ""}


# The error types recorded in a task's `errors` when no exception reached the
# handler's frame. They exist as classes so that django.tasks' TaskError can
# resolve `exception_class` for every entry.


class SlotCrashed(QueueError):
    """The process running the task exited unexpectedly."""


class WorkerLost(QueueError):
    """The worker running the task stopped heartbeating."""


class WorkerShutdown(QueueError):
    """The worker shut down before the task finished; it runs again."""
