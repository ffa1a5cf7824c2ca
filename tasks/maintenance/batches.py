"""Chores that work through a backlog in short transactions, one batch each."""

from collections.abc import Callable

from django.db import connection, transaction

from tasks.maintenance.locks import try_lock


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
