"""The worker's patience with the database: after a failed operation, wait a
growing delay before the next, and keep going meanwhile.

The delay never exceeds a quarter of QUEUE_WORKER_TIMEOUT: once the database
is back, the heartbeat must come before other workers take this live one for
dead and rescue its tasks from under it.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from django.db import DatabaseError, connection

from tasks import conf
from tasks.db import reconnect_delay

logger = logging.getLogger("tasks.worker")

T = TypeVar("T")


class Patience:
    def __init__(self, owner: str) -> None:
        self.owner = owner  # who is waiting, for the log line
        self.failures = 0
        self.retry_at = 0.0  # monotonic time before which nothing is tried

    @property
    def waiting(self) -> bool:
        return time.monotonic() < self.retry_at

    def run(self, operation: Callable[[], T]) -> T | None:
        """`operation()`, or None if waiting or if it failed on the database."""
        if self.waiting:
            return None
        try:
            result = operation()
        except (DatabaseError, psycopg.Error) as exc:
            self.failed(exc)
            return None
        self.failures = 0
        return result

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        delay = min(reconnect_delay(self.failures), conf.get("WORKER_TIMEOUT") / 4)
        self.failures += 1
        self.retry_at = time.monotonic() + delay
        logger.warning("%s: database unavailable (%s); retrying in %ss", self.owner, str(exc).strip(), delay)
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close
            pass

    def now(self) -> None:
        """Try the next operation at once, even in the middle of a delay (last chances)."""
        self.retry_at = 0.0
