"""Wake-ups over LISTEN/NOTIFY, with polling as the safety net.

The channels and what is sent on them are in tasks/db.py. A worker selects on
the listener's socket; when the connection breaks it polls until it can
listen again, and treats the gap as "maybe there is work".
"""

import logging
import time

import psycopg
from django.db import connection

from tasks.db import CHANNEL, CONTROL_CHANNEL, reconnect_delay

logger = logging.getLogger("tasks.worker")


class Listener:
    """A dedicated connection that LISTENs; the worker selects on its socket."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None
        self.failures = 0
        self.retry_at = 0.0

    def connect(self) -> bool:
        """(Re)connect when due; True when listening."""
        if self.conn is not None:
            return True
        if time.monotonic() < self.retry_at:
            return False
        try:
            params = connection.get_connection_params()
            self.conn = psycopg.connect(**params, autocommit=True)
            self.conn.execute(f"LISTEN {CHANNEL}")
            self.conn.execute(f"LISTEN {CONTROL_CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - any failure means: try again later
            self._lost(exc)
            return False
        self.failures = 0
        return True

    def fileno(self) -> int | None:
        return self.conn.fileno() if self.conn is not None else None

    def drain(self) -> list[psycopg.Notify] | None:
        """Notifications received so far; None when the connection was lost
        (the caller should then claim, since notifications may have been missed)."""
        if self.conn is None:
            return None
        try:
            return list(self.conn.notifies(timeout=0))
        except psycopg.Error as exc:
            self._lost(exc)
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _lost(self, exc: Exception) -> None:
        delay = reconnect_delay(self.failures)
        self.failures += 1
        self.retry_at = time.monotonic() + delay
        logger.warning("LISTEN connection unavailable (%s); polling, retrying in %ss", exc, delay)
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
        self.conn = None
