"""Reading the event log in commit-safe order, as SSE streams and the metrics fold do.

Event ids come from a sequence at insert time, but transactions commit in any
order: a reader that simply followed ids would step over a row whose transaction
was still open and commit after it. So rows are read in (xid, id) order and only
below the horizon: the oldest transaction still open in this database. Every
row below it is final, and rows written later land above it. Transactions of
other databases on the same server are left out, so they hold nothing back;
a long transaction that writes tasks here delays events until it ends.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The horizon as a scalar subquery, in the reading statement itself so that it
# uses the same snapshot. An xid seen running in another database is skipped;
# any xid not positively seen elsewhere counts (it may be ours).
HORIZON = """(
    SELECT coalesce(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.backend_xid = (x::text::bigint %% 4294967296)::text::xid
          AND a.datname <> current_database()
    )
)"""

COLUMNS = "id, xid, at, event, queue, type, worker_id, task_ids, attempts, seconds, data"

# Rows after a cursor, oldest first, that no open transaction can precede.
AFTER = f"""
SELECT {COLUMNS} FROM tasks_event
WHERE (xid, id) > (%(xid)s, %(id)s) AND xid < {HORIZON}
ORDER BY xid, id
LIMIT %(limit)s
"""

# Where a new stream starts: after the newest final row.
HEAD = f"""
SELECT xid, id FROM tasks_event WHERE xid < {HORIZON} ORDER BY xid DESC, id DESC LIMIT 1
"""




def position_of(reader: str) -> str:
    """SQL: how far `reader` (a fold) has read, (xid, id); the start of the log before its first fold."""
    return (f"SELECT coalesce(max(xid), 0) AS xid, coalesce(max(event_id), 0) AS id "
            f"FROM tasks_eventcursor WHERE name = '{reader}'")


def fold_statement(reader: str, body: str) -> str:
    """SQL of one fold step for `reader`: the final events after its position,
    in commit-safe order, at most %(limit)s of them, as the CTE `batch`; the
    CTEs of `body`, which count them; and the position moved past the batch.
    One statement, so each event is counted exactly once however many processes
    fold. Returns how many log rows it read."""
    return f"""
WITH cur AS ({position_of(reader)}),
batch AS MATERIALIZED (
    SELECT e.* FROM tasks_event e, cur
    WHERE (e.xid, e.id) > (cur.xid, cur.id) AND e.xid < {HORIZON}
    ORDER BY e.xid, e.id LIMIT %(limit)s
), {body}, moved AS (
    INSERT INTO tasks_eventcursor (name, xid, event_id)
    SELECT '{reader}', xid, id FROM batch ORDER BY xid DESC, id DESC LIMIT 1
    ON CONFLICT (name) DO UPDATE SET xid = excluded.xid, event_id = excluded.event_id
)
SELECT count(*) FROM batch
"""


END = 2**31 - 1  # the index of a cursor that is past a whole row


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """A position in the log: the `index`-th message of row (xid, id); a stream
    sends it as the event id, and a client resumes after it with Last-Event-ID."""

    xid: int = 0
    id: int = 0
    index: int = END

    def __str__(self) -> str:
        return f"{self.xid}-{self.id}-{self.index}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        """The cursor of a Last-Event-ID header; None when absent or malformed."""
        try:
            xid, id, index = (int(part) for part in (text or "").split("-"))
        except ValueError:
            return None
        return cls(xid, id, index) if min(xid, id, index) >= 0 else None


@dataclass(frozen=True, slots=True)
class Message:
    """One event as a stream sends it: one per task, or one per worker event."""

    cursor: Cursor
    event: str
    queue: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Filter:
    """What a stream asked for; empty sets mean everything."""

    queues: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    def accepts(self, message: Message) -> bool:
        if self.events and not (message.event in self.events or message.event.split(".")[0] + ".*" in self.events):
            return False
        if message.event.startswith(("worker.", "batch.")):
            # Worker and batch events carry no task; they pass the queue and type filters.
            return True
        return (not self.queues or message.queue in self.queues) and (not self.types or message.type in self.types)


def head(cursor) -> Cursor:
    """The position after the newest final event."""
    cursor.execute(HEAD, {})
    row = cursor.fetchone()
    return Cursor(row[0], row[1]) if row else Cursor()


def after_params(position: Cursor, limit: int = 500) -> dict:
    """Parameters of AFTER: final rows after `position`, the row of a mid-row
    position included (messages() then skips what was already sent)."""
    id = position.id if position.index == END else position.id - 1
    return {"xid": position.xid, "id": id, "limit": limit}


def rows_after(cursor, position: Cursor, limit: int = 500) -> list[tuple]:
    cursor.execute(AFTER, after_params(position, limit))
    return cursor.fetchall()


def messages(rows: Iterable[tuple], after: Cursor | None = None) -> Iterator[Message]:
    """Expand log rows into per-task messages, skipping those at or before `after`."""
    for id, xid, at, event, queue, type, worker_id, task_ids, attempts, seconds, data in rows:
        if event.startswith("worker."):
            position = Cursor(xid, id, 0)
            if after is None or position > after:
                yield Message(position, event, "", "", {"event": event, "worker_id": _str(worker_id),
                                                        "at": _iso(at), **(data or {})})
            continue
        if event.startswith("batch."):
            # One message per batch event; task_ids holds the callbacks it released.
            position = Cursor(xid, id, 0)
            if after is None or position > after:
                yield Message(position, event, "", "", {"event": event, "at": _iso(at), **(data or {}),
                                                        "callbacks": [str(t) for t in task_ids]})
            continue
        for index, task_id in enumerate(task_ids):
            position = Cursor(xid, id, index)
            if after is not None and position <= after:
                continue
            body = {"event": event, "task_id": str(task_id), "type": type, "queue": queue, "at": _iso(at)}
            if attempts:
                body["attempt"] = attempts[index]
            if worker_id and not event.startswith("webhook."):
                body["worker_id"] = str(worker_id)
            if seconds and seconds[index] is not None:
                body["wait_seconds" if event == "task.started" else "duration_seconds"] = round(seconds[index], 6)
            yield Message(position, event, queue, type, body)


def _iso(value: datetime) -> str:
    return value.isoformat()


def _str(value) -> str | None:
    return None if value is None else str(value)
