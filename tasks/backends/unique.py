"""Unique keys of Python tasks: which enqueues count as the same task.

- `@task(unique=True)`: the key is the type and a hash of the arguments, held
  while a task with it is scheduled, pending or processing.
- `@task(unique=3600)` (seconds, or a timedelta): also held for that long after
  enqueueing, even once the task has finished: a throttle.
- `.using(unique_key="invoice-42")`: an explicit key, shared by any task that
  names it, with the task's window if it has one.

Enqueueing a task whose key is held returns the holder (`tasks.queue.enqueue_unique`),
from Python or over REST alike (the registry carries the key of each unique type).
"""

import hashlib
import json
from datetime import timedelta
from typing import Any


def key_for(type_name: str, unique: bool | float | timedelta, unique_key: str | None, payload: Any) -> str | None:
    """The unique key of a task of `type_name` with these arguments, or None when it is not unique."""
    if unique_key is not None:
        return unique_key
    if unique is False:
        return None
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{type_name}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def window_seconds(unique: bool | float | timedelta) -> float | None:
    """The window of `unique`, in seconds; None when the key is held only while active."""
    if isinstance(unique, bool):
        return None
    if isinstance(unique, timedelta):
        return unique.total_seconds()
    return float(unique)


def error(value) -> str | None:
    """What is wrong with a task's `unique` option, if anything."""
    if isinstance(value, bool):
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not isinstance(seconds, int | float) or seconds <= 0:
        return "unique is True, or a window: a positive number of seconds or a timedelta."
    return None
