"""Every change of a task's state: enqueue, claim, complete, fail, cancel, retry.

Views, commands, handlers and the worker call these; nothing else writes
`status`. Each change is one SQL statement in one short transaction:

- enqueue.py: producers, in the caller's transaction (inserts.py: their INSERT
  statements, one task or a batch), and backpressure.py, the check that
  refuses tasks for a full queue;
- operations.py: operators' changes of many tasks at once (ORM);
- claims.py: the worker's claim, batched outcomes and promotion (raw SQL, fenced);
- retry_policy.py: when a failed attempt runs again, as pure functions;
- workflows.py and batches.py: tasks that wait for others (a DAG, inserted in
  one transaction) and sets of tasks with callbacks; their progress is made by
  a trigger (migration 0013_workflows) in the transaction that finishes a task.

A trigger on the task table sends NOTIFY on the `taskqueue` channel (payload:
the queue name) whenever a row becomes pending, so workers wake at commit.
"""

from tasks.queue.claims import claim, complete, fail, failure, hand_back, held, interrupted, promote_due
from tasks.queue.enqueue import build, build_many, enqueue, enqueue_idempotent, enqueue_many, enqueue_unique, insert
from tasks.queue.operations import cancel, delete_dead_letters, purge, report_progress, reschedule, retry, run_now

__all__ = [
    "build", "build_many", "cancel", "claim", "complete", "delete_dead_letters", "enqueue", "enqueue_idempotent",
    "enqueue_many", "enqueue_unique", "fail", "failure", "hand_back", "held", "insert", "interrupted",
    "promote_due", "purge", "report_progress", "reschedule", "retry", "run_now",
]
