"""Running one job in a slot process: its handler, its timeout, its outcome.

Payloads travel as JSON text from the claim to the slot and results come back
as JSON text, so the supervisor never parses them.
"""

import json
import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import close_old_connections

from tasks import registry
from tasks.exceptions import TaskTimeout


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed task, as a slot needs it."""

    id: UUID
    type: str
    payload_json: str | None
    queue: str
    priority: int
    attempt: int
    retry_count: int
    max_retries: int
    timeout: float
    worker_id: UUID
    retry_backoff: float | None = None  # the task's backoff base; None uses QUEUE_RETRY_BASE

    @property
    def payload(self) -> Any:
        return None if self.payload_json is None else json.loads(self.payload_json)

    @property
    def label(self) -> str:
        """How logs describe the job, as in the reference worker logs."""
        return (
            f"task {self.id} (type: {self.type}, queue: {self.queue}, priority: {self.priority}, "
            f"attempt: {self.retry_count + 1}/{self.max_retries + 1})"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one attempt; times are epoch seconds."""

    id: UUID
    attempt: int
    ok: bool
    result_json: str | None
    error: dict | None
    started_at: float
    finished_at: float


_current: ContextVar[Job] = ContextVar("current_job")

NOT_JSON = "The handler returned a value that is not JSON"


def current_job() -> Job:
    """The job running in this process; for handlers that want its id or attempt."""
    return _current.get()


def report_progress(value: float | None, message: str = "") -> bool:
    """Tell the queue how far the running task is: `value` from 0 to 1, and a message.

    Call it from a handler or @task function while it runs; the REST API and
    the dashboard show it at once. Each call is one UPDATE, committed
    immediately (unless the handler has its own transaction open, in which
    case it shows when that commits). Returns False when this attempt no
    longer holds the task, for example after its timeout.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
        raise ValueError(f"Progress is a number from 0 to 1 (or None), not {value!r}.")
    from tasks import queue

    return queue.report_progress(current_job(), value, str(message)[:500])


def execute(job: Job) -> Outcome:
    """Run `job`'s handler and describe the outcome; never raises for handler errors."""
    close_old_connections()
    started = time.time()
    token = _current.set(job)
    try:
        handler = registry.get(job.type)
        with deadline(job.timeout):
            value = handler.func(job.payload)
        result_json = json.dumps(value, allow_nan=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded with its traceback
        return Outcome(job.id, job.attempt, False, None, describe(exc), started, time.time())
    finally:
        _current.reset(token)
        close_old_connections()
    return Outcome(job.id, job.attempt, True, result_json, None, started, time.time())


def describe(exc: BaseException) -> dict:
    """The error entry kept in a task's history."""
    kind = type(exc)
    message = str(exc)
    if isinstance(exc, TypeError | ValueError) and "JSON" in message and not message.startswith(NOT_JSON):
        message = f"{NOT_JSON}: {message}"
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": message,
        "traceback": "".join(traceback.format_exception(exc)),
    }


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TaskTimeout in this (main) thread after `seconds`.

    Cooperative: it interrupts Python code and sleeps. Code stuck in C that
    ignores signals is handled by the supervisor, which replaces the process.
    """

    def expire(signum, frame):
        raise TaskTimeout(f"The task ran longer than its timeout of {seconds:g} seconds.")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
