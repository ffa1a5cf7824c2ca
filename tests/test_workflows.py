"""Workflows and batches on the real database: waiting, release, failure policy,
retry of a failed node, results flow, batch counts and callbacks."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tasks import queue
from tasks.context import dependency_results, running
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.models import Batch, Event, Task, TaskStatus
from tasks.queue.batches import Batch as BatchBuilder
from tasks.queue.batches import cancel_batch, enqueue_batch
from tasks.queue.workflows import Workflow, call, cancel_workflow, chain, check_graph, fan_in

pytestmark = pytest.mark.django_db

WORKER = uuid.uuid4()


def status(node) -> str:
    return Task.objects.get(pk=node.id if hasattr(node, "id") else node).status


def run(*, fail: set = frozenset(), results: dict | None = None) -> list:
    """Claim everything pending and record outcomes (completed, or failed for good for `fail` ids)."""
    jobs = queue.claim(raw_cursor(), WORKER, None, 1000)
    done = [Outcome(j.id, j.attempt, True, json.dumps((results or {}).get(j.id, {"ran": str(j.id)})), None,
                    1.0, 2.0) for j in jobs if j.id not in fail]
    failures = [queue.failure(j, {"type": "Boom", "message": "no"}, timezone.now()) for j in jobs if j.id in fail]
    queue.complete(raw_cursor(), WORKER, done)
    queue.fail(raw_cursor(), failures)
    return jobs


def test_a_chain_runs_one_node_at_a_time():
    workflow = chain(call("echo", 1, options={"max_retries": 0}), call("echo", 2), call("echo", 3))
    workflow.enqueue()
    a, b, c = workflow.nodes.values()
    assert [status(a), status(b), status(c)] == ["pending", "waiting", "waiting"]
    assert [j.id for j in run()] == [a.id]
    assert [status(b), status(c)] == ["pending", "waiting"]
    assert [j.id for j in run()] == [b.id]
    assert [j.id for j in run()] == [c.id]
    assert status(c) == "completed"


def test_fan_in_waits_for_every_branch_and_reads_their_results():
    workflow = fan_in([call("echo", i) for i in range(5)], call("echo", "sum"))
    workflow.enqueue()
    *branches, last = workflow.nodes.values()
    jobs = run(results={b.id: i * 10 for i, b in enumerate(branches)})
    assert len(jobs) == 5 and status(last) == "pending"
    job = queue.claim(raw_cursor(), WORKER, None, 10)[0]
    assert job.id == last.id
    with running(job):
        assert dependency_results() == {b.name: i * 10 for i, b in enumerate(branches)}


def test_a_failed_dependency_cancels_its_dependents_down_the_graph_unless_ignored():
    workflow = Workflow()
    a = workflow.add("echo", 1, options={"max_retries": 0})
    b = workflow.add("echo", 2, deps=[a])
    c = workflow.add("echo", 3, deps=[b])
    d = workflow.add("echo", 4, deps=[a], ignore_failed=True)
    workflow.enqueue()
    run(fail={a.id})
    assert [status(a), status(b), status(c), status(d)] == ["failed", "cancelled", "cancelled", "pending"]
    assert Task.objects.get(pk=b.id).last_error.startswith("DependencyFailed: its dependency echo-1")
    assert "is cancelled" in Task.objects.get(pk=c.id).last_error

    # Retrying the failed node puts the cancelled ones back to waiting, and the rest continues.
    assert queue.retry(Task.objects.get(pk=a.id)) == 1
    assert [status(a), status(b), status(c)] == ["pending", "waiting", "waiting"]
    run()  # a, and d
    run()  # b
    run()  # c
    assert [status(a), status(b), status(c), status(d)] == ["completed"] * 4


def test_retrying_a_node_whose_dependencies_are_not_done_makes_it_wait():
    workflow = chain(call("echo", 1), call("echo", 2))
    workflow.enqueue()
    a, b = workflow.nodes.values()
    queue.cancel(Task.objects.get(pk=b.id))
    queue.retry(Task.objects.get(pk=b.id))
    assert status(b) == "waiting"
    run()
    assert status(b) == "pending"


def test_cancelling_a_workflow_cancels_every_node_not_started():
    workflow = fan_in([call("echo", i) for i in range(3)], call("echo", "end"))
    row = workflow.enqueue()
    assert cancel_workflow(row.id) == 4
    assert set(Task.objects.filter(workflow_id=row.id).values_list("status", flat=True)) == {"cancelled"}


def test_a_node_scheduled_for_later_is_scheduled_when_released():
    later = timezone.now() + timedelta(hours=1)
    workflow = chain(call("echo", 1), call("echo", 2, options={"run_at": later}))
    workflow.enqueue()
    a, b = workflow.nodes.values()
    assert status(b) == "waiting"
    run()
    assert status(b) == "scheduled"


@pytest.mark.parametrize(("graph", "field", "words"), [
    # An unknown dependency name is named, with the node that asked for it.
    ({"a": (["x"], set())}, "nodes.a.deps", "Unknown node 'x'"),
    # A node that depends on itself.
    ({"a": (["a"], set())}, "nodes.a.deps", "itself"),
    # A cycle of three, spelled out.
    ({"a": (["c"], set()), "b": (["a"], set()), "c": (["b"], set())}, "nodes.a.deps", "a -> c -> b -> a"),
    # ignore_failed names a node that is not a dependency.
    ({"a": ([], set()), "b": ([], {"a"})}, "nodes.b.ignore_failed", "also in deps"),
])
def test_bad_graphs_are_refused_naming_the_field(graph, field, words):
    with pytest.raises(ValidationError) as info:
        check_graph(graph)
    assert field in info.value.message_dict
    assert words in info.value.message_dict[field][0]


def test_a_node_of_another_workflow_is_refused():
    one, other = Workflow(), Workflow()
    a = one.add("echo", 1)
    with pytest.raises(ValidationError) as info:
        other.add("echo", 2, deps=[a])
    assert "another workflow" in str(info.value)


def test_a_batch_counts_its_tasks_and_enqueues_the_right_callbacks_once():
    batch = BatchBuilder("b", on_success=call("echo", "ok"), on_failure=call("echo", "ko"),
                         on_complete=call("echo", "done"))
    first = batch.add(call("echo", 1), call("echo", 2, options={"max_retries": 0}))
    run(fail={first[1].id})
    row = Batch.objects.get(pk=batch.id)
    assert (row.total, row.completed, row.failed, row.finished_at) == (2, 1, 1, None)  # still open
    batch.add(call("echo", 3))
    batch.close()
    assert status(row.on_complete) == "waiting"
    run()
    row.refresh_from_db()
    assert (row.total, row.completed, row.failed, row.pending, row.status) == (3, 2, 1, 0, "failed")
    assert [status(row.on_success), status(row.on_failure), status(row.on_complete)] == [
        "cancelled", "pending", "pending"]
    assert Event.objects.filter(event="batch.finished").count() == 1
    with pytest.raises(ValidationError):
        batch.add(call("echo", 4))


def test_an_empty_batch_finishes_when_closed_and_a_cancelled_one_runs_no_callback():
    row = enqueue_batch([], on_success=call("echo", "ok"))
    assert row.finished_at is not None and status(row.on_success) == "pending"
    batch = BatchBuilder(on_success=call("echo", "ok"), on_failure=call("echo", "ko"))
    batch.add(call("echo", 1), call("echo", 2))
    assert cancel_batch(batch.id) == 2
    row = Batch.objects.get(pk=batch.id)
    assert row.finished_at is not None and row.cancelled == 2
    assert [status(row.on_success), status(row.on_failure)] == ["cancelled", "cancelled"]


def test_plain_tasks_are_untouched_by_the_trigger():
    task = queue.enqueue("echo", 1)
    run()
    assert Task.objects.get(pk=task.id).status == TaskStatus.COMPLETED
    assert Batch.objects.count() == 0


def test_a_finished_batch_is_one_message_on_the_event_stream():
    from tasks.telemetry.event_log import Filter, messages

    row = enqueue_batch([call("echo", 1)], name="n", on_complete=call("echo", "done"))
    run()
    with raw_cursor() as cursor:
        cursor.execute("SELECT id, xid, at, event, queue, type, worker_id, task_ids, attempts, seconds, data "
                       "FROM tasks_event WHERE event = 'batch.finished'")
        # Django's connection reads jsonb as text; the stream's own connection parses it.
        found = list(messages([(*r[:10], json.loads(r[10])) for r in cursor.fetchall()]))
    assert [(m.event, m.data["batch"], m.data["completed"], m.data["callbacks"]) for m in found] == [
        ("batch.finished", str(row.id), 1, [str(row.on_complete)])]
    assert Filter(queues=frozenset({"q"}), events=frozenset({"batch.*"})).accepts(found[0])


def test_task_functions_are_nodes_with_their_own_options():
    from tests import pytasks

    workflow = Workflow()
    a = workflow.add(pytasks.add, 1, 2)
    b = workflow.add(pytasks.describe, "x", label="y", deps=[a])
    workflow.enqueue()
    first, second = Task.objects.get(pk=a.id), Task.objects.get(pk=b.id)
    assert (first.type, first.payload) == (pytasks.add.type_name, {"args": [1, 2], "kwargs": {}})
    assert (second.queue, second.priority, second.status, second.waiting_on) == ("python", 7, "waiting", 1)
    assert second.payload == {"args": ["x"], "kwargs": {"label": "y"}}


def test_retrying_an_ignored_failure_counts_it_again_for_its_waiting_dependents():
    workflow = Workflow()
    a = workflow.add("echo", 1, options={"max_retries": 0})
    b = workflow.add("echo", 2, options={"run_at": timezone.now() + timedelta(hours=1)})
    d = workflow.add("echo", 3, deps=[a, b], ignore_failed=[a])
    workflow.enqueue()
    run(fail={a.id})
    assert Task.objects.get(pk=d.id).waiting_on == 1  # a counted as done; b still scheduled
    queue.retry(Task.objects.get(pk=a.id))
    assert (status(d), Task.objects.get(pk=d.id).waiting_on) == ("waiting", 2)
    queue.run_now(Task.objects.get(pk=b.id))
    run()
    assert status(d) == "pending"


def test_the_repair_chore_releases_a_task_a_drifted_count_left_waiting():
    from tasks.maintenance import repair_flows

    workflow = chain(call("echo", 1), call("echo", 2))
    workflow.enqueue()
    a, b = workflow.nodes.values()
    Task.objects.filter(pk=b.id).update(waiting_on=5)  # as a manual edit of the table would
    run()
    assert status(a) == "completed" and status(b) == "waiting"
    assert repair_flows.run_once(timezone.now()) == 0  # too recent: may belong to a transaction in flight
    assert repair_flows.run_once(timezone.now() + timedelta(minutes=2)) == 1
    assert status(b) == "pending"
