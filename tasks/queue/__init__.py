"""Every change of a task's state: enqueue, claim, complete, fail, cancel, retry.

Views, commands, handlers and the worker call these; nothing else writes
`status`. Each change is one SQL statement in one short transaction:

- enqueue.py: producers, in the caller's transaction (ORM);
- operations.py: operators' changes of many tasks at once (ORM);
- batches.py: the worker's claim and batched outcomes (raw SQL, fenced).

A trigger on the task table sends NOTIFY on the `taskqueue` channel (payload:
the queue name) whenever a row becomes pending, so workers wake at commit.
"""

from tasks.queue.batches import (
    CLAIM_FROM_ALL,
    CLAIM_FROM_QUEUES,
    COMPLETE,
    FAIL,
    HAND_BACK,
    HELD,
    Failure,
    claim,
    complete,
    complete_params,
    fail,
    failure,
    hand_back,
    held,
    interrupted,
)
from tasks.queue.enqueue import (
    IDEMPOTENCY_CONSTRAINT,
    NOTIFY_CHANNEL,
    build,
    enqueue,
    enqueue_idempotent,
    enqueue_many,
    enqueue_unique,
    insert,
)
from tasks.queue.operations import cancel, delete_dead_letters, purge, report_progress, retry, run_now

__all__ = [
    "CLAIM_FROM_ALL", "CLAIM_FROM_QUEUES", "COMPLETE", "FAIL", "HAND_BACK", "HELD", "IDEMPOTENCY_CONSTRAINT",
    "NOTIFY_CHANNEL", "Failure", "build", "cancel", "claim", "complete", "complete_params", "delete_dead_letters", "enqueue",
    "enqueue_idempotent", "enqueue_many", "enqueue_unique", "fail", "failure", "hand_back", "held", "insert",
    "interrupted", "purge", "report_progress", "retry", "run_now",
]
