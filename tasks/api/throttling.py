"""Per-client rate limits, shared by every web process and machine through
PostgreSQL, counted in batches.

DRF's stock throttles keep their history in Django's cache, which is per
process unless a shared cache server exists; this project's only shared
infrastructure is PostgreSQL. Writing every request to it would make each
request wait for a statement on the one row of its client (one hot row per
busy token). Instead each web process counts in memory and adds its count to
the shared row (tasks/models/throttle.py: fixed windows on the database's
clock) in one statement now and then: when a window starts, once the process
has admitted a SHARE-th of the room left in the window as it last saw it, and
at least every MAX_AGE seconds while it admits requests. The statement returns
the shared count, so every process learns what the others admitted.

How exact: near the limit the room left is small, so a process synchronises
on every request and refusals are exact; a client already over its limit is
refused from memory until the window ends. The one overshoot possible comes
from processes that admitted requests since their last synchronisation: with
P processes serving one client at once, at most P / SHARE of the limit beyond
it, and only for bursts that reach several processes within one round trip
(with 2 web processes and SHARE 16: 1,000/second admits at most about 1,060).
Requests admitted but not yet counted when a window ends are not carried
into the next one. Over the limit, DRF answers 429 with Retry-After: the
seconds until the window ends.
"""

import math
import time
from dataclasses import dataclass
from threading import Lock

from rest_framework.throttling import SimpleRateThrottle

from tasks import conf
from tasks.db import raw_cursor

SHARE = 16
MAX_AGE = 1.0

# One atomic round trip: start a new window, or add to the current one, by `hits`.
# The window is computed from the database clock, so every web process and
# machine agrees on it (statement_timestamp, not now(): now() is frozen for a
# whole transaction, and a request may run inside one).
HIT = """
INSERT INTO tasks_ratewindow AS r (key, window_start, count)
VALUES (%(key)s, to_timestamp(floor(extract(epoch FROM statement_timestamp()) / %(period)s) * %(period)s), %(hits)s)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN r.window_start = excluded.window_start THEN r.count + excluded.count ELSE excluded.count END,
    window_start = excluded.window_start
RETURNING count, extract(epoch FROM window_start - statement_timestamp())::float + %(period)s
"""


@dataclass
class Window:
    """What this process knows of one client's current window."""

    limit: int
    period: int
    ends: float  # monotonic time; a guess until the first synchronisation returns
    shared: int = 0  # the shared count at the last synchronisation
    synced: float = -math.inf  # monotonic time of the last synchronisation
    inflight: int = 0  # admitted here, being added to the shared count now
    unsynced: int = 0  # admitted here since

    def counted(self) -> int:
        return self.shared + self.inflight + self.unsynced

    def admits(self, limit: int, period: int, now: float) -> bool | None:
        """True or False when memory can decide; None when it is time to synchronise."""
        if (limit, period) != (self.limit, self.period) or now >= self.ends:
            return None
        if self.counted() >= limit:
            return False
        if self.unsynced >= max(1, (limit - self.counted()) // SHARE) or now - self.synced >= MAX_AGE:
            return None
        self.unsynced += 1
        return True

    def learn(self, shared: int, remaining: float, now: float) -> None:
        """The shared count and the window's end, as one synchronisation returned them."""
        ends = now + remaining
        if ends > self.ends + self.period / 2 or self.synced == -math.inf:
            self.shared = shared  # the database started a new window
        else:
            self.shared = max(self.shared, shared)  # answers of concurrent statements may cross
        self.ends, self.synced = ends, now


_windows: dict[str, Window] = {}
_lock = Lock()


def hit(key: str, limit: int, period: int) -> tuple[bool, float]:
    """Count one request of `key`: (admitted, seconds until its window ends)."""
    now = time.monotonic()
    with _lock:
        window = _windows.get(key)
        decided = window.admits(limit, period, now) if window else None
        if decided is not None:
            return decided, window.ends - now
        if window is None or (limit, period) != (window.limit, window.period) or now >= window.ends:
            # Requests admitted but not yet counted in the window that ended are dropped.
            window = _windows[key] = Window(limit, period, ends=now + period)
        hits, window.unsynced = window.unsynced + 1, 0
        window.inflight += hits
    try:
        with raw_cursor(on_primary=True) as cursor:  # a write, even in a view that reads from a replica
            cursor.execute(HIT, {"key": key[:200], "period": period, "hits": hits}, prepare=conf.get("PREPARE"))
            shared, remaining = cursor.fetchone()
    except BaseException:
        with _lock:
            window.inflight -= hits
        raise
    with _lock:
        window.inflight -= hits
        window.learn(shared, remaining, time.monotonic())
    return shared <= limit, remaining


def over_limit(key: str, limit: int, period: int) -> tuple[bool, float]:
    """Whether this process already knows `key` to be past its limit (no statement,
    nothing counted): (blocked, seconds until its window ends)."""
    now = time.monotonic()
    with _lock:
        window = _windows.get(key)
        if window is None or (limit, period) != (window.limit, window.period) or now >= window.ends:
            return False, 0.0
        return window.counted() >= limit, window.ends - now


def forget() -> None:
    """Drop every count this process holds (tests: the shared rows were rolled back)."""
    with _lock:
        _windows.clear()


class ClientRateThrottle(SimpleRateThrottle):
    """QUEUE_API_RATE per token user, QUEUE_API_ANON_RATE per IP address for
    unauthenticated requests (health and the schema)."""

    def get_rate(self):
        return None  # read per request in allow_request, so settings changes apply at once

    def get_cache_key(self, request, view):
        if request.user is not None and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        rate = conf.get("API_RATE" if key.startswith("user:") else "API_ANON_RATE")
        if not rate:
            return True
        limit, period = self.parse_rate(rate)
        admitted, self.remaining = hit(key, limit, period)
        return admitted

    def wait(self) -> int:
        return max(1, math.ceil(self.remaining))
