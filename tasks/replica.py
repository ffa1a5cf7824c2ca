"""Reads from a streaming replica (DATABASE_REPLICA_URL): the scope that sends
a thread's queries there, and how far the replica is behind its primary.

Monitoring reads (the dashboard's lists, the task list, /api/stats) may be a
little stale; they must not load the primary that workers claim from. Inside
`reading()` this thread's *default* connection is the replica's, so the ORM,
`connection.cursor()` and `raw_cursor()` all read there with no change to the
code that reads; a write in that scope fails (SQLSTATE 25006), loudly, rather
than going anywhere silently. Reads that must see the caller's own write (a
task just created, an action's result) never enter the scope.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from asgiref.local import Local
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA = "replica"

# Seconds of replay behind the primary; 0 when the replica has replayed all it
# received (an idle primary sends nothing, so the last replayed commit's age is
# no lag then), and 0 for a server that is not in recovery.
LAG = """
SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END
"""

# The lag as last measured by this process: (monotonic time, seconds), so that
# routing asks the replica at most once per LAG_CHECK_INTERVAL, not per request.
LAG_CHECK_INTERVAL = 1.0
_seen = [float("-inf"), 0.0]
# The primary's connection of this thread while reading() lends its place to the replica's.
_hidden = Local()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def active() -> bool:
    """Whether this thread's default connection is the replica's now."""
    return connections[DEFAULT_DB_ALIAS].alias == REPLICA


@contextmanager
def reading() -> Iterator[None]:
    """Send this thread's default-connection queries to the replica until the block ends."""
    primary = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = connections[REPLICA]
    _hidden.primary = primary
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = primary
        del _hidden.primary


def primary() -> BaseDatabaseWrapper:
    """This thread's primary connection, also inside reading(): for the few writes
    a read-only view makes on the side (the API's shared rate-limit counts)."""
    return getattr(_hidden, "primary", None) or connections[DEFAULT_DB_ALIAS]


def lag_seconds() -> float:
    """How far the replica's replay is behind, measured now on the replica."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG)
        lag = float(cursor.fetchone()[0] or 0)
    _seen[:] = time.monotonic(), lag
    return lag


def recent_lag() -> float:
    """lag_seconds(), or this process's reading of less than LAG_CHECK_INTERVAL
    ago; infinite while the replica cannot be reached (asked again after the interval,
    so that a replica that is away costs one connection attempt per interval, not per request)."""
    at, lag = _seen
    if time.monotonic() - at < LAG_CHECK_INTERVAL:
        return lag
    try:
        return lag_seconds()
    except (DatabaseError, psycopg.Error):
        _seen[:] = time.monotonic(), math.inf
        return math.inf
