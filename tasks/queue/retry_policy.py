"""The retry policy: exponential backoff with jitter, as pure functions.

Ordinary failures, timeouts and rescued orphans all go through `next_run_at`.
"""

import random
from datetime import datetime, timedelta

from tasks import conf


def backoff(retry: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry).

    The ceiling doubles with each retry up to `cap`; "equal jitter" then picks a
    point in its upper half (`jitter` in [0, 1)), so retries of tasks that failed
    together spread out but never come back sooner than half the ceiling.
    """
    ceiling = min(cap, base * 2 ** (retry - 1))
    return ceiling / 2 + jitter * ceiling / 2


def next_run_at(
    retry_count: int,
    max_retries: int,
    now: datetime,
    *,
    base: float | None = None,
    cap: float | None = None,
    jitter: float | None = None,
) -> datetime | None:
    """When a task that just failed runs again, or None when no retries remain.

    `retry_count` is the number of automatic retries already used.
    """
    if retry_count >= max_retries:
        return None
    delay = backoff(
        retry_count + 1,
        base=conf.get("RETRY_BASE") if base is None else base,
        cap=conf.get("RETRY_CAP") if cap is None else cap,
        jitter=random.random() if jitter is None else jitter,
    )
    return now + timedelta(seconds=delay)
