"""REST: POST/GET /api/workflows and /api/batches, cancel, and 400s naming the field."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Task
from tests.api_helpers import error_of, post
from tests.test_workflows import run

pytestmark = pytest.mark.django_db


def node(name, deps=(), **extra):
    return {"name": name, "type": "echo", "payload": {"n": name}, "deps": list(deps), **extra}


def test_a_workflow_is_created_and_read_with_every_node_status(api):
    body = {"name": "etl", "nodes": [node("a"), node("b"), node("c", ["a", "b"], ignore_failed=["b"])]}
    created = post(api, "/api/workflows", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["name"] == "etl" and data["status"] == "running"
    nodes = {n["name"]: n for n in data["nodes"]}
    assert {n: v["status"] for n, v in nodes.items()} == {"a": "pending", "b": "pending", "c": "waiting"}
    assert nodes["c"]["deps"] == ["a", "b"] or sorted(nodes["c"]["deps"]) == ["a", "b"]
    assert nodes["c"]["ignore_failed"] == ["b"]
    run()
    run()
    read = api.get(f"/api/workflows/{data['id']}").json()
    assert read["status"] == "completed" and read["counts"] == {"completed": 3}
    assert api.get("/api/workflows").json()["results"][0]["id"] == data["id"]


def test_cancelling_a_workflow_over_rest(operator_api):
    api = operator_api  # cancelling needs the operate scope
    data = post(api, "/api/workflows", {"nodes": [node("a"), node("b", ["a"])]}).json()
    answer = post(api, f"/api/workflows/{data['id']}/cancel").json()
    assert answer["cancelled"] == 2 and answer["status"] == "cancelled"


@pytest.mark.parametrize(("nodes", "field", "words"), [
    # A cycle is refused with the node that closes it.
    ([node("a", ["b"]), node("b", ["a"])], "nodes.a.deps", "cycle"),
    # A dependency that names no node.
    ([node("a", ["nope"])], "nodes.a.deps", "Unknown node 'nope'"),
    # Two nodes with one name.
    ([node("a"), node("a")], "nodes", "unique"),
    # ignore_failed outside deps.
    ([node("a"), node("b", ignore_failed=["a"])], "nodes.b.ignore_failed", "also in deps"),
    # An unknown type, inside a node.
    ([{"name": "a", "type": "no-such-type"}], "nodes[0].type", ""),
])
def test_bad_workflows_are_refused_with_a_400_naming_the_field(api, nodes, field, words):
    error = error_of(post(api, "/api/workflows", {"nodes": nodes}), 400, "invalid")
    assert field in error["fields"], error
    assert words in " ".join(error["fields"][field])
    assert Task.objects.count() == 0


def test_a_dependency_on_a_task_of_another_workflow_is_refused(api):
    other = post(api, "/api/workflows", {"nodes": [node("x")]}).json()["nodes"][0]["task_id"]
    error = error_of(post(api, "/api/workflows", {"nodes": [node("a", [other])]}), 400, "invalid")
    assert "own workflow" in error["fields"]["nodes.a.deps"][0]


def test_a_batch_over_rest_counts_and_runs_its_callback(api):
    created = post(api, "/api/batches", {"name": "b", "close": False, "tasks": [{"type": "echo", "payload": 1}],
                                        "on_success": {"type": "echo", "payload": "ok"}})
    assert created.status_code == 201, created.content
    batch = created.json()
    assert (batch["total"], batch["status"]) == (1, "open")
    added = post(api, f"/api/batches/{batch['id']}/tasks", {"tasks": [{"type": "echo", "payload": 2}]})
    assert added.status_code == 201 and added.json()["count"] == 1
    closed = post(api, f"/api/batches/{batch['id']}/close").json()
    assert closed["status"] == "running" and closed["pending"] == 2
    run()
    read = api.get(f"/api/batches/{batch['id']}").json()
    assert (read["completed"], read["progress"], read["status"]) == (2, 1.0, "succeeded")
    assert Task.objects.get(pk=read["callbacks"]["on_success"]).status == "pending"
    error_of(post(api, f"/api/batches/{batch['id']}/tasks", {"tasks": [{"type": "echo"}]}), 409)


def test_cancelling_a_batch_and_unknown_ids(operator_api):
    api = operator_api  # cancelling needs the operate scope
    batch = post(api, "/api/batches", {"tasks": [{"type": "echo"}] * 3, "close": False,
                                       "on_complete": {"type": "echo"}}).json()
    answer = post(api, f"/api/batches/{batch['id']}/cancel").json()
    assert answer["cancelled"] == 3 and answer["cancelled"] == answer["total"]
    assert Task.objects.get(pk=answer["callbacks"]["on_complete"]).status == "cancelled"
    error_of(api.get(f"/api/batches/{uuid.uuid4()}"), 404)
    error_of(api.get("/api/workflows/not-an-id"), 404)
    error = error_of(post(api, "/api/batches", {"tasks": [{"type": "echo", "priority": 1000}]}), 400)
    assert "tasks[0].priority" in error["fields"]


def test_each_node_keeps_its_own_options(api):
    body = {"nodes": [node("a", queue="io", priority=9, max_retries=0),
                      node("b", ["a"], scheduled_for="2099-01-01T00:00:00Z")]}
    data = post(api, "/api/workflows", body).json()
    a, b = (Task.objects.get(pk=n["task_id"]) for n in data["nodes"])
    assert (a.queue, a.priority, a.max_retries, a.status) == ("io", 9, 0, "pending")
    assert (b.status, b.run_at.year, b.waiting_on) == ("waiting", 2099, 1)
    run()
    assert Task.objects.get(pk=b.id).status == "scheduled"  # released, but its time is to come


def test_a_task_shows_its_workflow_node_and_batch_in_every_task_read(api):
    flow = post(api, "/api/workflows", {"nodes": [node("a"), node("b", ["a"])]}).json()
    batch = post(api, "/api/batches", {"tasks": [{"type": "echo"}]}).json()
    plain = post(api, "/api/tasks", {"type": "echo"}).json()
    assert (plain["workflow_id"], plain["node"], plain["batch_id"]) == (None, "", None)
    a_id = flow["nodes"][0]["task_id"]
    for body in (api.get(f"/api/tasks/{a_id}").json(), api.get(f"/api/tasks/{a_id}/details").json()):
        assert (body["workflow_id"], body["node"], body["batch_id"]) == (flow["id"], "a", None)
    listed = {row["id"]: row for row in api.get("/api/tasks").json()["results"]}
    in_batch = Task.objects.get(batch_id=batch["id"])
    assert listed[str(in_batch.id)]["batch_id"] == batch["id"] and listed[str(in_batch.id)]["workflow_id"] is None
    assert listed[a_id]["node"] == "a" and listed[plain["id"]]["batch_id"] is None


def test_details_show_a_nodes_dependencies_and_dependents(api):
    flow = post(api, "/api/workflows", {"nodes": [
        node("a"), node("b"), node("c", ["a", "b"], ignore_failed=["b"]), node("d", ["c"])]}).json()
    ids = {n["name"]: n["task_id"] for n in flow["nodes"]}
    c = api.get(f"/api/tasks/{ids['c']}/details").json()
    assert c["dependencies"] == [
        {"task_id": ids["a"], "node": "a", "type": "echo", "status": "pending", "ignore_failed": False},
        {"task_id": ids["b"], "node": "b", "type": "echo", "status": "pending", "ignore_failed": True}]
    assert c["dependents"] == [
        {"task_id": ids["d"], "node": "d", "type": "echo", "status": "waiting", "ignore_failed": False}]
    run()
    a = api.get(f"/api/tasks/{ids['a']}/details").json()
    assert a["dependencies"] == [] and [(d["node"], d["status"]) for d in a["dependents"]] == [("c", "pending")]
    plain = post(api, "/api/tasks", {"type": "echo"}).json()
    details = api.get(f"/api/tasks/{plain['id']}/details").json()
    assert (details["dependencies"], details["dependents"]) == ([], [])


def test_the_task_list_reads_workflow_fields_without_a_query_per_row(api):
    post(api, "/api/workflows", {"nodes": [node("a")]})
    with CaptureQueriesContext(connection) as one:
        assert len(api.get("/api/tasks").json()["results"]) == 1
    post(api, "/api/workflows", {"nodes": [node(f"n{i}") for i in range(5)]})
    post(api, "/api/batches", {"tasks": [{"type": "echo"}] * 4})
    with CaptureQueriesContext(connection) as many:
        assert len(api.get("/api/tasks").json()["results"]) == 10
    assert len(many.captured_queries) == len(one.captured_queries)


def test_details_of_a_task_outside_workflows_add_no_query(api):
    plain = post(api, "/api/tasks", {"type": "echo"}).json()
    with CaptureQueriesContext(connection) as queries:
        api.get(f"/api/tasks/{plain['id']}/details")
    assert not any("tasks_dependency" in q["sql"] for q in queries.captured_queries)
