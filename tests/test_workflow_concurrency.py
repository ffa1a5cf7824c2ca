"""Many dependencies completing at the same moment on different workers (real
processes, real transactions): each dependent is released exactly once, batch
counts are exact, and each callback is enqueued once."""

import uuid

import pytest

from tasks import queue
from tasks.db import raw_cursor
from tasks.models import Batch, Event, Task
from tasks.queue.batches import Batch as BatchBuilder
from tasks.queue.workflows import Workflow, call
from tests.support.concurrency import run_together
from tests.support.database import database_url_for_tests
from tests.support.flows import complete_at_once

WORKERS = 6
BRANCHES = 60


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_completions_release_each_dependent_once(transactional_db, round_):
    workflow = Workflow()
    branches = [workflow.add("echo", i, options={"max_retries": 0}) for i in range(BRANCHES)]
    # Every pair of workers shares dependents: fan-ins of all branches, of halves, and of pairs.
    everything = workflow.add("echo", "all", deps=branches)
    halves = [workflow.add("echo", h, deps=branches[h::2]) for h in range(2)]
    pairs = [workflow.add("echo", f"p{i}", deps=[branches[i], branches[-1 - i]]) for i in range(BRANCHES // 2)]
    # One branch fails: its ignore_failed dependent still runs, its strict one is cancelled.
    tolerant = workflow.add("echo", "tolerant", deps=branches, ignore_failed=True)
    workflow.enqueue()
    batch = BatchBuilder(on_success=call("echo", "ok"), on_failure=call("echo", "ko"), on_complete=call("echo", "c"))
    members = batch.add(*[call("echo", i, options={"max_retries": 0}) for i in range(BRANCHES)])
    batch.close()

    workers = [uuid.uuid4() for _ in range(WORKERS)]
    claimed = {w: [] for w in workers}
    jobs = queue.claim(raw_cursor(), workers[0], None, 10_000)
    assert len(jobs) == 2 * BRANCHES
    for i, job in enumerate(jobs):  # deal the claims out, re-fenced to each worker
        claimed[workers[i % WORKERS]].append(job)
    with raw_cursor() as cursor:
        for worker, held in claimed.items():
            cursor.execute("UPDATE tasks_task SET worker_id = %s WHERE id = ANY(%s)", [worker, [j.id for j in held]])
    failed = {str(branches[0].id), str(members[0].id)}
    counts = run_together(
        complete_at_once,
        [(str(w), [(str(j.id), j.attempt) for j in held], sorted(failed)) for w, held in claimed.items()],
        database_url=database_url_for_tests(),
    )
    assert sum(counts) == 2 * BRANCHES

    def status(node):
        return Task.objects.get(pk=node.id).status

    # branch 0 failed for good: strict dependents cancelled, the tolerant one released.
    assert status(everything) == "cancelled" and status(halves[0]) == "cancelled"
    assert status(halves[1]) == "pending" and status(tolerant) == "pending"
    assert status(pairs[0]) == "cancelled"
    assert [status(p) for p in pairs[1:]] == ["pending"] * (BRANCHES // 2 - 1)
    row = Batch.objects.get(pk=batch.id)
    assert (row.total, row.completed, row.failed, row.cancelled) == (BRANCHES, BRANCHES - 1, 1, 0)
    assert row.finished_at is not None
    assert [Task.objects.get(pk=t).status for t in (row.on_success, row.on_failure, row.on_complete)] == [
        "cancelled", "pending", "pending"]
    assert Event.objects.filter(event="batch.finished").count() == 1
    # Released exactly once: one transition out of waiting per dependent in the event log's
    # counters would show a second as a waiting->pending of a pending row, which the guard forbids;
    # what can go wrong is "never", and every dependent above left `waiting`.
    assert not Task.objects.filter(workflow_id=workflow.row.id, status="waiting").exists()
