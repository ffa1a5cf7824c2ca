"""Per-client rate limits with DRF throttling, counted in PostgreSQL.

DRF's stock throttles keep their history in Django's cache, which is per
process unless a shared cache server exists; this project's only shared
infrastructure is PostgreSQL, so each request bumps one counter row in one
statement (fixed windows; see tasks/models/throttle.py). Over the limit, DRF
answers 429 with Retry-After: the seconds until the window ends.
"""

import math

from django.db import connection
from rest_framework.throttling import SimpleRateThrottle

from tasks import conf

# One atomic round trip: start a new window, or count in the current one.
# The window is computed from the database clock, so every web process and
# machine agrees on it (statement_timestamp, not now(): now() is frozen for a
# whole transaction, and a request may run inside one).
HIT = """
INSERT INTO tasks_ratewindow AS r (key, window_start, count)
VALUES (%(key)s, to_timestamp(floor(extract(epoch FROM statement_timestamp()) / %(period)s) * %(period)s), 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN r.window_start = excluded.window_start THEN r.count + 1 ELSE 1 END,
    window_start = excluded.window_start
RETURNING count, extract(epoch FROM window_start - statement_timestamp())::float + %(period)s
"""


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
        with connection.cursor() as cursor:
            cursor.execute(HIT, {"key": key[:200], "period": period})
            count, self.remaining = cursor.fetchone()
        return count <= limit

    def wait(self) -> int:
        return max(1, math.ceil(self.remaining))
