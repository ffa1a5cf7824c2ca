"""Producers' check that a task with an ordering_key goes to an ordered queue.

Only ordered queues are claimed by the statement that keeps keys in order
(tasks/queue/flow.py); anywhere else a key would be silently ignored, so it is
refused. Read only for tasks that carry a key, at most once per MAX_AGE.
"""

import time

from django.core.exceptions import ValidationError

from tasks import conf
from tasks.models import Queue

MAX_AGE = 1.0

_ordered: tuple[float, frozenset[str]] | None = None


def check(queue: str) -> None:
    """ValidationError (on ordering_key) unless `queue` is ordered."""
    if queue not in ordered_queues():
        raise ValidationError({"ordering_key": [
            f"Queue {queue!r} does not keep order: declare it ordered (PATCH /api/queues/{queue} "
            f'{{"ordered": true}}, the admin, or QUEUE_LIMITS) before sending tasks with an ordering_key.'
        ]})


def ordered_queues() -> frozenset[str]:
    global _ordered
    now = time.monotonic()
    if _ordered is None or now - _ordered[0] >= MAX_AGE:
        names = set(Queue.objects.filter(ordered=True).values_list("name", flat=True))
        names |= {name for name, limits in (conf.get("LIMITS") or {}).items() if limits.get("ordered")}
        _ordered = (now, frozenset(names))
    return _ordered[1]


def forget() -> None:
    """Read the ordered queues again at the next check."""
    global _ordered
    _ordered = None
