"""Children of the workflow concurrency test: each records the outcomes of the
tasks it was given, as its own worker, at the same moment as the others."""

import json
import os
import time


def complete_at_once(barrier, out, worker: str, claimed: list, failed: list) -> None:
    """Record `claimed` [(id, attempt)] as completed (`failed` ids as failed for good), in one statement each."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
    django.setup()
    from uuid import UUID

    from django.utils import timezone

    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.jobs import Job, Outcome

    worker_id = UUID(worker)
    done = [Outcome(UUID(i), a, True, json.dumps(i), None, time.time(), time.time())
            for i, a in claimed if i not in failed]
    failures = [queue.failure(Job(UUID(i), "echo", None, "default", 0, a, 0, 0, 10, worker_id),
                              {"type": "Boom", "message": "no"}, timezone.now())
                for i, a in claimed if i in failed]
    cursor = raw_cursor()
    barrier.wait()
    # Deadlocks between statements that lock the same dependents in another order
    # are resolved by PostgreSQL aborting one; the worker then sends it again.
    for _ in range(20):
        try:
            out.put(queue.complete(cursor, worker_id, done) + queue.fail(cursor, failures))
            return
        except Exception as exc:  # noqa: BLE001 - a deadlock, as the worker's retry would see
            if "deadlock" not in str(exc):
                raise
            time.sleep(0.01)
    raise RuntimeError("still deadlocking")
