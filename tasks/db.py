"""Database plumbing shared by every layer: row ids, the thread's connection for
hot-path statements, advisory locks, NOTIFY channels, and how long to wait
before reconnecting."""

import os
import time
from collections.abc import Callable
from uuid import UUID, SafeUUID

import psycopg
from django.db import connection, transaction

from tasks import replica

# Channels of NOTIFY. A trigger on the task table notifies CHANNEL with the
# queue name whenever a row becomes pending (insert, promotion, manual retry);
# NOTIFY is transactional, so listeners hear of a task exactly when its enqueue
# commits. Operators' pause and resume reach workers on CONTROL_CHANNEL; new
# event-log rows are announced on EVENTS_CHANNEL.
CHANNEL = "taskqueue"
CONTROL_CHANNEL = "taskqueue_control"
EVENTS_CHANNEL = "taskqueue_events"

# Seconds to wait before the next attempt after `n` failures in a row, for
# every connection that reconnects by itself (worker, listener, event hub).
RECONNECT_DELAYS = (0.5, 1, 2, 5, 10)

LOCK_NAMESPACE = "taskqueue:"


def reconnect_delay(failures: int) -> float:
    """The wait after `failures` failed attempts in a row (0 for the first)."""
    return RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]


def raw_cursor(on_primary: bool = False) -> psycopg.Cursor:
    """A server-binding psycopg cursor on Django's connection for this thread.

    Django's own cursors bind parameters client-side, which rules out prepared
    statements; this one can prepare. It shares the connection, so it also
    shares Django's transaction state and reconnection. `on_primary`: the
    primary's even while a monitoring view reads from the replica (tasks/replica.py).
    """
    wrapper = replica.primary() if on_primary else connection
    wrapper.ensure_connection()
    return psycopg.Cursor(wrapper.connection)


def connection_lost() -> bool:
    """Whether this thread's connection failed to open or broke (server away,
    restarted, backend terminated), as opposed to a statement that failed."""
    raw = connection.connection
    return raw is None or raw.closed or raw.broken


# SQLSTATE 25006, read_only_sql_transaction: a write reached a server that only
# reads, a standby. Behind a failover this means "no primary here": a pooled
# connection or a DNS name still pointing at the demoted side, or a URL without
# target_session_attrs=read-write. It is an outage to wait out, not a bug.
READ_ONLY_SQLSTATE = "25006"


def read_only_server(exc: BaseException) -> bool:
    """Whether `exc` is a write refused because the server is a standby."""
    for error in (exc, exc.__cause__):
        if getattr(error, "sqlstate", None) == READ_ONLY_SQLSTATE:
            return True
    return False


def primary_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means no writable primary is reachable on this thread's
    connection: it broke, or it leads to a standby. Either way, reconnect."""
    return connection_lost() or read_only_server(exc)


def discard_connection() -> None:
    """Close this thread's connection for good (not back into a pool), so that the
    next one is opened afresh and libpq looks for the primary again."""
    raw = connection.connection
    if raw is not None and not raw.closed:
        raw.close()  # a closed connection is dropped by the pool, not lent again
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close
        pass


def notify(channel: str, payload: str) -> None:
    """NOTIFY through Django's connection, inside the caller's transaction if any."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def wake_workers(queue: str) -> None:
    """Tell listening workers that `queue` may have runnable tasks."""
    notify(CHANNEL, queue)


def steer_workers(worker_id: str = "*") -> None:
    """Make a worker (or all) re-read its row now, for pause and resume."""
    notify(CONTROL_CHANNEL, worker_id)


def try_lock(name: str) -> bool:
    """Take the transaction-scoped advisory lock `name`; False if another holds it.

    Call inside transaction.atomic(); the lock is released at commit or rollback.
    Housekeeping chores take one each, so exactly one worker does a chore at a time.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [LOCK_NAMESPACE + name])
        return cursor.fetchone()[0]


def in_batches(lock: str, step: Callable[[object], int], batch: int) -> int:
    """Run `step(cursor)` in its own transaction under advisory lock `lock` until
    it handles fewer than `batch` rows (or another process holds the lock);
    returns the total. Short transactions keep locks and snapshots brief."""
    total = 0
    while True:
        with transaction.atomic():
            if not try_lock(lock):
                return total
            with connection.cursor() as cursor:
                handled = step(cursor)
        total += handled
        if handled < batch:
            return total


# UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter in
# rand_a (its "method 1"), then 62 random bits. The counter keeps ids made
# within one millisecond in order, and the timestamp stays the real time: a
# generator that instead moves the timestamp one millisecond ahead per id runs
# seconds ahead of the clock after a bulk enqueue, and "created before" filters
# that bound ids by time would miss those rows. No lock: threads that race here
# may make two ids of the same millisecond and counter, which their random
# bits still tell apart; ids of one thread always increase.
_last = [0]  # milliseconds << 12 | counter, of the last id
_random = [b"", 0]  # random bytes from the OS, and how many are used; refilled after a fork
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)


def uuid7() -> UUID:
    """A time-ordered UUID (version 7)."""
    stamp = max(time.time_ns() // 1_000_000 << 12, _last[0] + 1)
    _last[0] = stamp
    pool, used = _random
    if used >= len(pool):
        pool, used = os.urandom(4096), 0  # one system call per 512 ids
    _random[:] = pool, used + 8
    value = (stamp >> 12 << 80) | ((stamp & 0xFFF) << 64) | _VERSION_AND_VARIANT | (
        int.from_bytes(pool[used:used + 8]) >> 2)
    # UUID(int=...) checks its argument in Python; this value is well formed by construction.
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", value)
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def _forget_random() -> None:
    _random[:] = b"", 0


# A forked child must not reuse its parent's random bytes (slots are forked).
os.register_at_fork(after_in_child=_forget_random)
