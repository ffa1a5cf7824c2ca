"""Batches: a set of tasks with live counts, and callbacks enqueued exactly once.

    from tasks.queue.batches import Batch
    from tasks.queue.workflows import call

    batch = Batch("invoices", on_success=call(notify, "all sent"), on_failure=call("echo", {"x": 1}))
    batch.add(call(send_invoice, 1), call(send_invoice, 2))   # in one or more transactions
    batch.close()                                              # no more tasks; it may now finish

The counts are kept by the trigger of migration 0013_workflows, in the
transaction that finishes each task; the callbacks are created `waiting`
with the batch, and the same trigger releases those that apply (and cancels
the others) when the batch is closed and every task is finished, under the
batch row's lock, so exactly once.
"""

from collections.abc import Sequence
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from tasks.models import Batch as BatchRow
from tasks.models import Task, TaskStatus
from tasks.queue.inserts import insert_many
from tasks.queue.operations import cancel
from tasks.queue.workflows import Step

CALLBACKS = ("on_success", "on_failure", "on_complete")

# Counted before the tasks go in, under the row's lock: a closed batch refuses them.
ADD = "UPDATE tasks_batch SET total = total + %s WHERE id = %s AND NOT closed"
CLOSE = "UPDATE tasks_batch SET closed = true WHERE id = %s AND NOT closed"
FINISH = "SELECT tasks_batch_finish(%s)"


class Batch:
    """A batch being filled: `add` steps (each call its own transaction), then `close`."""

    def __init__(self, name: str = "", *, on_success: Step | None = None, on_failure: Step | None = None,
                 on_complete: Step | None = None, now=None) -> None:
        self.row = open_batch(name, on_success=on_success, on_failure=on_failure, on_complete=on_complete, now=now)

    @property
    def id(self) -> UUID:
        return self.row.id

    def add(self, *steps: Step) -> list[Task]:
        return add_to_batch(self.row.id, steps)

    def close(self) -> None:
        close_batch(self.row.id)


def open_batch(name: str = "", *, now=None, **callbacks: Step | None) -> BatchRow:
    """Create an open batch and its callback tasks (waiting until it finishes)."""
    now = now or timezone.now()
    rows = {}
    for key in CALLBACKS:
        step = callbacks.get(key)
        if step is None:
            continue
        try:
            rows[key] = step.build(now)
        except ValidationError as exc:
            raise ValidationError({key: exc.messages}) from exc
        rows[key].status = TaskStatus.WAITING
    with transaction.atomic():
        insert_many(list(rows.values()))
        return BatchRow.objects.create(name=name, created_at=now, **{key: row.id for key, row in rows.items()})


def add_to_batch(batch_id: UUID, steps: Sequence[Step], *, now=None) -> list[Task]:
    """Insert tasks into an open batch, all or nothing; ValidationError if it is closed or unknown."""
    now = now or timezone.now()
    rows = []
    for index, step in enumerate(steps):
        try:
            rows.append(step.build(now))
        except ValidationError as exc:
            raise ValidationError({f"tasks.{index}": exc.messages}) from exc
    for row in rows:
        row.batch_id = batch_id
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(ADD, [len(rows), batch_id])
            if cursor.rowcount != 1:
                raise ValidationError({"batch": ["This batch is closed (or does not exist); open another one."]})
        insert_many(rows)
    return rows


def close_batch(batch_id: UUID) -> bool:
    """Close a batch: it takes no more tasks, and finishes when they all have (maybe at once)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLOSE, [batch_id])
        closed = cursor.rowcount == 1
        cursor.execute(FINISH, [batch_id])
    return closed


def enqueue_batch(steps: Sequence[Step], name: str = "", **callbacks: Step | None) -> BatchRow:
    """Create, fill and close a batch in one transaction; returns its row."""
    with transaction.atomic():
        row = open_batch(name, **callbacks)
        add_to_batch(row.id, steps)
        close_batch(row.id)
    row.refresh_from_db()
    return row


def cancel_batch(batch_id: UUID, *, now=None) -> int:
    """Close the batch, cancel its callbacks and every task of it not started; returns how many tasks."""
    # Tasks first, then the batch row, in the order the worker's outcomes lock
    # them (a task, then its batch): locking the batch row first could deadlock.
    row = BatchRow.objects.get(pk=batch_id)
    with transaction.atomic():
        cancel(Task.objects.filter(pk__in=[getattr(row, key) for key in CALLBACKS if getattr(row, key)]), now=now)
        count = cancel(Task.objects.filter(batch_id=batch_id), now=now)
        close_batch(batch_id)
    return count


# The safety net's half for batches: closed, every task counted, not finished.
FINISH_STUCK = """
SELECT count(tasks_batch_finish(id)) FROM tasks_batch
WHERE closed AND finished_at IS NULL AND completed + failed + cancelled >= total
"""


def finish_stuck(cursor) -> int:
    """Finish closed batches whose tasks are all counted but that did not finish; returns how many looked at."""
    cursor.execute(FINISH_STUCK)
    return cursor.fetchone()[0]
