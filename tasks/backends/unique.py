"""Unique keys of Python tasks: which enqueues count as the same task.

- `@task(unique=True)`: the key is the type and a hash of the arguments, held
  while a task with it is scheduled, pending or processing.
- `@task(unique=3600)` (seconds, or a timedelta): also held for that long after
  enqueueing, even once the task has finished: a throttle.
- `.using(unique_key="invoice-42")`: an explicit key, shared by any task that
  names it, with the task's window if it has one.

Enqueueing a task whose key is held returns the holder (`tasks.queue.enqueue_unique`).
"""

import hashlib
import json
from datetime import timedelta
from typing import Any

from tasks.backends.functions import QueueTask


def key_for(task: QueueTask, payload: Any) -> str | None:
    """The task's unique key for these arguments, or None when it is not unique."""
    if task.unique_key is not None:
        return task.unique_key
    if task.unique is False:
        return None
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{task.type_name}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def window_seconds(unique: bool | float | timedelta) -> float | None:
    """The window of `unique`, in seconds; None when the key is held only while active."""
    if isinstance(unique, bool):
        return None
    if isinstance(unique, timedelta):
        return unique.total_seconds()
    return float(unique)
