"""Backpressure: refuse new tasks for a queue that already holds too many pending.

The limit is the queue's own `Queue.max_pending`, else QUEUE_MAX_PENDING
(0: no limit). Depth is read from the trigger-maintained counters
(tasks/telemetry/counters.py), never by counting the task table, so the check
costs the same at any depth. It is a soft limit: requests checked at the same
moment may together overshoot it by their own size.

Without any limit that could apply, a producer reads nothing: which queues
have a limit of their own is remembered per process for LIMITS_MAX_AGE
seconds (and forgotten at once when this process saves or deletes a queue's
settings). A limit set through another process, or by SQL, applies here
within LIMITS_MAX_AGE.
"""

import time
from collections import Counter
from collections.abc import Iterable

from django.db.models.signals import post_delete, post_save

from tasks import conf
from tasks.exceptions import QueueFull
from tasks.models import Queue
from tasks.telemetry import counters

LIMITS_MAX_AGE = 1.0

_limited: tuple[float, frozenset[str]] | None = None  # (monotonic time read, queues with a limit of their own)


def check(queues: Iterable[str]) -> None:
    """Raise QueueFull if adding one task per item of `queues` would pass a queue's limit."""
    adding = Counter(queues)
    if not conf.get("MAX_PENDING") and not limited_queues().intersection(adding):
        return
    for name, (depth, limit) in counters.pending_depths(adding, conf.get("MAX_PENDING")).items():
        if limit and depth + adding[name] > limit:
            raise QueueFull(
                f"Queue {name!r} holds {depth} pending tasks and accepts at most {limit}; "
                f"nothing was written. Retry later, when workers have caught up."
            )


def limited_queues() -> frozenset[str]:
    """Names of the queues with a limit of their own, as read at most LIMITS_MAX_AGE ago."""
    global _limited
    now = time.monotonic()
    if _limited is None or now - _limited[0] >= LIMITS_MAX_AGE:
        names = frozenset(Queue.objects.filter(max_pending__gt=0).values_list("name", flat=True))
        _limited = (now, names)
    return _limited[1]


def forget(**kwargs) -> None:
    """Read the limits again at the next check."""
    global _limited
    _limited = None


post_save.connect(forget, sender=Queue, dispatch_uid="tasks.queue.backpressure.saved")
post_delete.connect(forget, sender=Queue, dispatch_uid="tasks.queue.backpressure.deleted")
