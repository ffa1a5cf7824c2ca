"""Advisory locks, so exactly one worker does each chore at a time."""

from django.db import connection

LOCK_NAMESPACE = "taskqueue:"


def try_lock(name: str) -> bool:
    """Take the transaction-scoped advisory lock `name`; False if another holds it.

    Call inside transaction.atomic(); the lock is released at commit or rollback.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [LOCK_NAMESPACE + name])
        return cursor.fetchone()[0]
