"""Rescue tasks whose worker stopped heartbeating.

Each counts as a failed attempt ("worker lost") and goes through the retry
policy, like any other failure. The fence in queue.fail matches the lost
worker and attempt, so a worker that was only slow cannot record an outcome
over the attempt that replaces it.
"""

from datetime import datetime, timedelta

from django.db import transaction

from tasks import conf, queue
from tasks.db import raw_cursor, try_lock
from tasks.exceptions import WorkerLost, untraced
from tasks.jobs import Job

# Heartbeats count from the server's start at the earliest: after a restart
# (or a failover) every worker was silent for as long as the database was
# away, through no fault of its own, and gets a full threshold to reconnect
# before its tasks are taken from it. A promoted standby started long before
# its promotion, so after a failover it is the housekeeper's own pause (it
# skips rescue while its worker has just lost the database) that protects them.
ORPHANS = """
SELECT t.id, t.type, t.queue, t.priority, t.attempt, t.retry_count, t.max_retries,
       t.timeout, t.worker_id, t.started_at, t.retry_backoff
FROM tasks_task t
WHERE t.status = 'processing'
  AND NOT EXISTS (
      SELECT 1 FROM tasks_worker w
      WHERE w.id = t.worker_id AND w.state <> 'stopped'
        AND greatest(w.last_heartbeat, pg_postmaster_start_time()) >= %s
  )
LIMIT 1000
FOR UPDATE OF t SKIP LOCKED
"""


def run_once(now: datetime) -> int:
    """Fail (and maybe reschedule) every task held by a dead worker; returns how many."""
    threshold = conf.get("WORKER_TIMEOUT")
    with transaction.atomic():
        if not try_lock("rescue"):
            return 0
        with raw_cursor() as cursor:
            cursor.execute(ORPHANS, [now - timedelta(seconds=threshold)])
            rows = cursor.fetchall()
            failures = [
                queue.failure(
                    Job(id=r[0], type=r[1], payload_json=None, queue=r[2], priority=r[3], attempt=r[4],
                        retry_count=r[5], max_retries=r[6], timeout=r[7] or 0, worker_id=r[8],
                        retry_backoff=r[10]),
                    untraced(WorkerLost, f"The worker running this task stopped heartbeating for more than "
                                         f"{threshold:g} seconds; the attempt is counted as failed."),
                    now,
                    started_at=r[9],
                )
                for r in rows
            ]
            return queue.fail(cursor, failures)
