"""Database plumbing shared by every layer: the thread's connection for hot-path
statements, COPY, advisory locks, NOTIFY channels, and how long to wait before
reconnecting."""

from collections.abc import Callable, Sequence

import psycopg
from django.db import connection, models, transaction

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


def raw_cursor() -> psycopg.Cursor:
    """A server-binding psycopg cursor on Django's connection for this thread.

    Django's own cursors bind parameters client-side, which rules out prepared
    statements; this one can prepare. It shares the connection, so it also
    shares Django's transaction state and reconnection.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def connection_lost() -> bool:
    """Whether this thread's connection failed to open or broke (server away,
    restarted, backend terminated), as opposed to a statement that failed."""
    raw = connection.connection
    return raw is None or raw.closed or raw.broken


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


def copy_insert(objs: Sequence[models.Model]) -> None:
    """Insert unsaved model instances of one model with COPY, in the caller's transaction.

    One statement, all or nothing, firing the same statement-level triggers as
    an INSERT. Converting parameters is what bounds a large bulk_create; COPY
    streams the rows instead, about three times faster for tasks. JSON fields
    go through the field's own preparation; other values are passed as they are
    (UUID, str, numbers, aware datetimes), which psycopg dumps itself.
    """
    if not objs:
        return
    meta = objs[0]._meta
    fields = meta.concrete_fields
    json = [isinstance(field, models.JSONField) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([
                    field.get_db_prep_save(getattr(obj, field.attname), connection) if is_json
                    else getattr(obj, field.attname)
                    for field, is_json in zip(fields, json)
                ])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
