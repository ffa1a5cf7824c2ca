"""Task endpoints: idempotent create, bulk, list with filters and cursors,
details, retry, cancel. Real PostgreSQL through Django's test client."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import StatDelta, Task, TaskStatus, WebhookDelivery
from tests.api_helpers import error_of, post
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


# --- create: idempotency -----------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_task_with_200(api):
    first = post(api, "/api/tasks", {"type": "echo", "payload": 1, "idempotency_key": "order-17"})
    assert first.status_code == 201
    again = post(api, "/api/tasks", {"type": "echo", "payload": 2, "idempotency_key": "order-17"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["payload"] == 1
    assert again["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1


def test_the_idempotency_key_header_works_like_the_field(api):
    first = post(api, "/api/tasks", {"type": "echo"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    by_field = post(api, "/api/tasks", {"type": "echo", "idempotency_key": "k-1"})
    assert (by_field.status_code, by_field.json()["id"]) == (200, first.json()["id"])
    different = post(api, "/api/tasks", {"type": "echo", "idempotency_key": "k-2"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert "idempotency_key" in error_of(different, 400, "invalid")["fields"]
    too_long = post(api, "/api/tasks", {"type": "echo"}, HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert "idempotency_key" in error_of(too_long, 400)["fields"]
    assert Task.objects.count() == 1


# --- bulk --------------------------------------------------------------------


def test_bulk_inserts_every_task_in_one_statement_and_returns_ids_in_order(api):
    items = [{"type": "echo", "payload": i, "priority": i % 5, "queue": f"q{i % 3}"} for i in range(300)]
    response = post(api, "/api/tasks/bulk", {"tasks": items})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 300
    stored = Task.objects.in_bulk(body["ids"])
    assert [stored[uuid.UUID(i)].payload for i in body["ids"]] == list(range(300))
    # One statement (an INSERT): the statement-level counter trigger ran once, writing
    # one delta per (queue, status); a statement per task would have written 300.
    assert sorted(StatDelta.objects.values_list("queue", "delta")) == [("q0", 100), ("q1", 100), ("q2", 100)]


def test_bulk_validates_everything_first_and_names_each_bad_item(api):
    items = [{"type": "echo"}, {"type": "echo"}, {"type": "nope"}, {"type": "echo", "priority": 900},
             {"type": "echo", "colour": "red"}]
    error = error_of(post(api, "/api/tasks/bulk", {"tasks": items}), 400, "invalid")
    assert set(error["fields"]) == {"tasks[2].type", "tasks[3].priority", "tasks[4].colour"}
    assert "tasks[3].priority" in error["message"]
    assert Task.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "tasks"), ({"tasks": []}, "tasks"), ({"tasks": "x"}, "tasks"),
     ({"tasks": [{"type": "echo", "idempotency_key": "a"}]}, "tasks[0].idempotency_key"),
     ({"tasks": [{"type": "echo"}], "extra": 1}, "extra"), ({"tasks": [{"type": "echo", "queue": 0}]}, "tasks[0].queue"), ({"tasks": [{"type": "echo"}, None]}, "tasks[1]")],
)
def test_bad_bulk_bodies_are_400s(api, body, field):
    assert field in error_of(post(api, "/api/tasks/bulk", body), 400)["fields"]
    assert Task.objects.count() == 0


def test_bulk_refuses_more_than_the_configured_limit(api, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "BULK_MAX": 3}
    error = error_of(post(api, "/api/tasks/bulk", {"tasks": [{"type": "echo"}] * 4}), 400)
    assert "at most 3" in error["fields"]["tasks"][0]
    assert post(api, "/api/tasks/bulk", {"tasks": [{"type": "echo"}] * 3}).status_code == 201


# --- list --------------------------------------------------------------------


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [task["id"] for task in response.json()["results"]]


def test_list_is_newest_first_and_cursor_pages_are_stable(api):
    tasks = [TaskFactory() for _ in range(7)]
    newest_first = [str(t.id) for t in reversed(tasks)]
    page1 = api.get("/api/tasks?limit=3")
    assert ids(page1) == newest_first[:3]
    TaskFactory.create_batch(2)  # new rows do not shift the pages that follow
    page2 = api.get(page1.json()["next"])
    assert ids(page2) == newest_first[3:6]
    page3 = api.get(page2.json()["next"])
    assert ids(page3) == newest_first[6:] and page3.json()["next"] is None
    assert ids(api.get(page2.json()["previous"])) == newest_first[:3]
    oldest_first = api.get("/api/tasks/?ordering=created_at&limit=2")
    assert ids(oldest_first) == [str(t.id) for t in tasks[:2]]


def test_list_filters(api):
    now = timezone.now()
    a = TaskFactory(type="email", payload="someone@example.com", status=TaskStatus.FAILED, priority=5, queue="mail")
    b = TaskFactory(type="echo", payload={"order": "A-1234"}, priority=-3)
    old = TaskFactory(type="echo", payload=1)
    Task.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    assert ids(api.get("/api/tasks?status=failed")) == [str(a.id)]
    assert ids(api.get("/api/tasks?type=echo")) == [str(old.id), str(b.id)]
    assert ids(api.get("/api/tasks?queue=mail")) == [str(a.id)]
    assert ids(api.get("/api/tasks?priority_min=0")) == [str(old.id), str(a.id)]
    assert ids(api.get("/api/tasks?priority_max=-1")) == [str(b.id)]
    assert ids(api.get("/api/tasks?priority_min=-5&priority_max=4")) == [str(old.id), str(b.id)]
    assert ids(api.get("/api/tasks?search=a-1234")) == [str(b.id)]
    assert ids(api.get("/api/tasks?search=SOMEONE@")) == [str(a.id)]
    assert ids(api.get(f"/api/tasks?search={a.id}")) == [str(a.id)]
    # An id prefix (tasks made in the same millisecond share their first 12 hex digits).
    assert ids(api.get(f"/api/tasks?search={str(b.id)[:23]}")) == [str(b.id)]
    # The created range: `old` was made by its factory just now (its id says so) but
    # claims to be two days old; the filter trusts created_at.
    hour_ago = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert sorted(ids(api.get(f"/api/tasks?created_after={hour_ago}"))) == sorted([str(a.id), str(b.id)])


def test_created_range_filters_seek_by_id(api):
    before = TaskFactory()
    middle_time = timezone.now()
    after = TaskFactory()
    stamp = middle_time.isoformat().replace("+00:00", "Z")
    assert ids(api.get("/api/tasks", {"created_after": stamp})) == [str(after.id)]
    assert ids(api.get("/api/tasks", {"created_before": stamp})) == [str(before.id)]


def test_times_with_any_offset_python_accepts_are_filtered_not_crashed(api):
    task = TaskFactory()
    # PostgreSQL refuses offsets beyond 15:59; the filter converts to UTC first.
    assert ids(api.get("/api/tasks", {"created_before": "2244-08-12T02:45:42+21:55"})) == [str(task.id)]
    assert ids(api.get("/api/tasks", {"created_after": "0187-06-19T11:07:27+05:26", "limit": 10**9})) == [str(task.id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("priority_min=high", "priority_min"), ("created_after=yesterday", "created_after"),
     ("ordering=priority", "ordering"), ("cursor=bm9wZQ", "cursor"), ("cursor=cD1ub3QtYS11dWlk", "cursor"),
     ("limit=null", "limit"), ("status=", "status"), ("created_before=", "created_before"), ("limit=0", "limit"), ("created_after=0001-01-01T00:00:00%2B05:00", "created_after")],
)
def test_bad_list_parameters_are_400s_naming_the_parameter(api, query, field):
    assert field in error_of(api.get(f"/api/tasks?{query}"), 400, "invalid")["fields"]


# --- details -----------------------------------------------------------------


def test_details_has_every_attempt_timings_workers_and_deliveries(api):
    started = timezone.now() - timedelta(seconds=3)
    task = TaskFactory(
        status=TaskStatus.COMPLETED, webhook="https://example.com/hook", attempt=2, retry_count=1,
        started_at=started, completed_at=started + timedelta(seconds=2),
        created_at=started - timedelta(seconds=1), run_at=started - timedelta(seconds=1),
        worker_id="0190a000-0000-7000-8000-000000000002",
        errors=[{"attempt": 1, "worker": "0190a000-0000-7000-8000-000000000001", "at": started.isoformat(),
                 "type": "builtins.ConnectionError", "message": "refused", "traceback": "Traceback ...\n"}],
    )
    WebhookDelivery.objects.create(task=task, url=task.webhook, status="delivered", attempts=2, response_code=200,
                                   log=[{"at": "t1", "error": "timeout", "ms": 10000}, {"at": "t2", "status": 200, "ms": 40}])
    body = api.get(f"/api/tasks/{task.id}/details").json()
    assert body["id"] == str(task.id) and body["status"] == "completed"
    assert body["errors"][0]["traceback"].startswith("Traceback") and body["errors"][0]["attempt"] == 1
    assert body["workers"] == ["0190a000-0000-7000-8000-000000000001", "0190a000-0000-7000-8000-000000000002"]
    assert body["timings"] == {"waited_seconds": 1.0, "ran_seconds": 2.0, "total_seconds": 3.0}
    [delivery] = body["deliveries"]
    assert delivery["status"] == "delivered" and len(delivery["log"]) == 2 and delivery["response_code"] == 200
    assert api.get(f"/api/tasks/{task.id}/details/").status_code == 200


# --- retry, cancel, delete ---------------------------------------------------


def test_retry_a_failed_task_as_the_reference_says(operator_api):
    task = TaskFactory(status=TaskStatus.FAILED, retry_count=3)
    response = post(operator_api, f"/api/tasks/{task.id}/retry")
    assert response.status_code == 200
    assert response.json() == {"status": "retrying", "task_id": str(task.id)}
    task.refresh_from_db()
    assert (task.status, task.retry_count) == (TaskStatus.PENDING, 0)


@pytest.mark.parametrize("state", [TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED])
def test_retry_of_a_task_that_is_not_failed_or_cancelled_is_a_409_with_the_reason(operator_api, state):
    task = TaskFactory(status=state)
    error = error_of(post(operator_api, f"/api/tasks/{task.id}/retry"), 409, "conflict")
    assert f"is {state}" in error["message"] and "failed or cancelled" in error["message"]
    assert Task.objects.get(pk=task.pk).status == state


@pytest.mark.parametrize("how", ["post-cancel", "delete"])
def test_cancel_and_delete_cancel_a_waiting_task_and_409_otherwise(operator_api, how):
    def cancel(task):
        if how == "delete":
            return operator_api.delete(f"/api/tasks/{task.id}")
        return post(operator_api, f"/api/tasks/{task.id}/cancel/")

    pending, scheduled = TaskFactory(), TaskFactory(status=TaskStatus.SCHEDULED)
    for task in (pending, scheduled):
        response = cancel(task)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
    running = TaskFactory(status=TaskStatus.PROCESSING)
    error = error_of(cancel(running), 409, "conflict")
    assert "is processing" in error["message"] and "scheduled or pending" in error["message"]
    assert error_of(cancel(pending), 409)["message"].count("cancelled") == 2
    assert Task.objects.get(pk=running.pk).status == TaskStatus.PROCESSING


def test_task_actions_on_unknown_ids_are_404s(operator_api):
    missing = "0190a000-0000-7000-8000-00000000dead"
    api = operator_api
    for response in (post(api, f"/api/tasks/{missing}/retry"), post(api, f"/api/tasks/{missing}/cancel"),
                     api.delete(f"/api/tasks/{missing}"), api.get(f"/api/tasks/{missing}/details")):
        error_of(response, 404, "not_found")



@pytest.mark.django_db(transaction=True)
def test_a_payload_search_runs_on_the_index_order_for_its_own_request_only(api):
    tasks = [TaskFactory(payload={"order": f"A-{i}"}) for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        found = ids(api.get("/api/tasks?search=a-1"))
    assert found == [str(tasks[1].id)]
    assert any(q["sql"] == "SET LOCAL enable_sort = off" for q in queries.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_sort")
        assert cursor.fetchone()[0] == "on"
    with CaptureQueriesContext(connection) as queries:
        assert ids(api.get(f"/api/tasks?search={tasks[0].id}")) == [str(tasks[0].id)]
    assert not any("enable_sort" in q["sql"] for q in queries.captured_queries)
