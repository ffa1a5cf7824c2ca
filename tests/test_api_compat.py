"""Contract tests for the reference documents' other paths (002, 003, 004):
their own examples, sent as written (plus the token), answered with the fields
they show. tasks/api/compat.py and compat_urls.py serve them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Queue, Task, TaskStatus, Worker
from tests.api_helpers import error_of, post
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db

# Document 003, "Task Structure".
TASK_STRUCTURE_003 = {
    "type": "email",
    "payload": {"to": "user@example.com", "subject": "Welcome"},
    "priority": 2,
    "max_retries": 5,
    "timeout": 300,
    "scheduled_at": "2024-01-15T12:00:00Z",
    "metadata": {"user_id": "123"},
}


# --- document 003: /api/v1/tasks ---------------------------------------------


def test_003_submit_an_immediate_task(api):
    # curl -X POST http://localhost:8080/api/v1/tasks -d '{"type": "echo", "payload": {...}, "priority": 2}'
    response = post(api, "/api/v1/tasks", {"type": "echo", "payload": {"message": "Hello, World!"}, "priority": 2})
    assert response.status_code == 201, response.content
    task = response.json()
    assert (task["type"], task["payload"], task["priority"], task["status"]) == (
        "echo", {"message": "Hello, World!"}, 2, "pending")
    assert task["scheduled_at"] == task["scheduled_for"]


def test_003_submit_a_scheduled_task_then_check_and_cancel_it(operator_api):
    api = operator_api  # cancelling needs the operate scope
    later = (timezone.now() + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = post(api, "/api/v1/tasks", {"type": "echo", "payload": {"message": "Delayed task"},
                                         "scheduled_at": later}).json()
    assert created["state"] == created["status"] == "scheduled" and created["scheduled_at"] == later
    # curl http://localhost:8080/api/v1/tasks/{task_id}
    fetched = api.get(f"/api/v1/tasks/{created['id']}").json()
    assert fetched["id"] == created["id"] and fetched["scheduled_at"] == later
    # curl -X DELETE http://localhost:8080/api/v1/tasks/{task_id}
    cancelled = api.delete(f"/api/v1/tasks/{created['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    error_of(api.delete(f"/api/v1/tasks/{created['id']}"), 409, "conflict")


def test_003_the_task_structure_is_stored_and_returned_and_metadata_is_searchable(api):
    response = post(api, "/api/v1/tasks", TASK_STRUCTURE_003)
    assert response.status_code == 201, response.content
    task = response.json()
    for field in ("type", "payload", "priority", "max_retries", "timeout", "metadata", "scheduled_at"):
        assert task[field] == TASK_STRUCTURE_003[field], field
    stored = Task.objects.get(pk=task["id"])
    assert stored.metadata == {"user_id": "123"} and stored.timeout == 300 and stored.max_retries == 5
    TaskFactory(metadata={"user_id": "456"})
    TaskFactory()
    found = api.get('/api/tasks?metadata={"user_id": "123"}').json()["results"]
    assert [t["id"] for t in found] == [task["id"]] and found[0]["metadata"] == {"user_id": "123"}
    assert "metadata" in error_of(api.get("/api/tasks?metadata=user_id"), 400)["fields"]


@pytest.mark.parametrize("body, field", [
    ({**TASK_STRUCTURE_003, "metadata": ["not", "an", "object"]}, "metadata"),
    ({**TASK_STRUCTURE_003, "scheduled_at": "tomorrow"}, "scheduled_at"),
    ({**TASK_STRUCTURE_003, "scheduled_for": "2024-01-15T12:00:00Z"}, "scheduled_at"),  # both names
    ({**TASK_STRUCTURE_003, "timeout": 0}, "timeout"),
])
def test_003_bad_fields_are_named_as_the_client_wrote_them(api, body, field):
    assert field in error_of(post(api, "/api/v1/tasks", body), 400, "invalid")["fields"]
    assert Task.objects.count() == 0


def test_003_metadata_on_the_main_api_too(api):
    task = post(api, "/api/tasks", {"type": "echo", "metadata": {"order": 7}}).json()
    assert api.get(f"/api/tasks/{task['id']}").json()["metadata"] == {"order": 7}


def test_003_queue_depths(api):
    TaskFactory.create_batch(2, queue="mail")
    TaskFactory(queue="mail", status=TaskStatus.SCHEDULED)
    TaskFactory(status=TaskStatus.FAILED)
    depths = api.get("/api/v1/tasks").json()  # "Get queue depths"
    assert depths["queues"]["mail"] == {"pending": 2, "scheduled": 1}
    assert depths["pending"] == 2 and depths["scheduled"] == 1 and depths["queues"]["default"]["failed"] == 1


# --- document 003: /admin/... --------------------------------------------------


def test_003_admin_health(api):
    # curl http://localhost:8080/admin/health   # Returns: {"status":"healthy", ...}
    response = api.get("/admin/health")
    assert response.status_code == 200 and response.json()["status"] in ("healthy", "degraded")
    assert response.json()["database"] == "ok"


def test_003_admin_workers_pause_and_resume(api, staff_api):
    worker = WorkerFactory()
    # curl http://localhost:8080/admin/workers
    assert [w["id"] for w in staff_api.get("/admin/workers").json()["results"]] == [str(worker.id)]
    assert staff_api.get(f"/admin/workers/{worker.id}").json()["id"] == str(worker.id)
    error_of(post(api, f"/admin/workers/{worker.id}/pause"), 403)
    # curl -X POST http://localhost:8080/admin/workers/<worker_id>/pause
    assert post(staff_api, f"/admin/workers/{worker.id}/pause").json()["state"] == "paused"
    assert Worker.objects.get(pk=worker.pk).state == "paused"
    assert post(staff_api, f"/admin/workers/{worker.id}/resume").json()["state"] == "running"


def test_003_admin_retry_a_failed_task_from_the_dlq(staff_api):
    failed = TaskFactory(status=TaskStatus.FAILED)
    # curl http://localhost:8080/admin/dlq
    assert [t["id"] for t in staff_api.get("/admin/dlq").json()["results"]] == [str(failed.id)]
    # curl -X POST http://localhost:8080/admin/tasks/<task_id>/retry
    retried = post(staff_api, f"/admin/tasks/{failed.id}/retry").json()
    assert retried == {"status": "retrying", "task_id": str(failed.id)}
    assert Task.objects.get(pk=failed.pk).status == TaskStatus.PENDING


def test_003_admin_dlq_retry_and_clear_act_on_the_whole_set(api, staff_api):
    TaskFactory.create_batch(2, status=TaskStatus.FAILED)
    error_of(post(api, "/admin/dlq/retry"), 403)
    assert post(staff_api, "/admin/dlq/retry").json() == {"retried": 2}
    TaskFactory.create_batch(3, status=TaskStatus.FAILED)
    assert "queu" in error_of(staff_api.delete("/admin/dlq?queu=x"), 400)["fields"]  # typos still refused
    assert staff_api.delete("/admin/dlq").json() == {"deleted": 3}  # "Clear DLQ"
    assert Task.objects.count() == 2


def test_003_admin_queues_and_purge_by_priority(api, staff_api):
    low = TaskFactory.create_batch(2, priority=0)
    high = TaskFactory(priority=2)
    assert {q["name"] for q in api.get("/admin/queues").json()} == {"default"}
    error_of(api.delete("/admin/queues/low"), 403)
    # curl -X DELETE http://localhost:8080/admin/queues/low
    assert staff_api.delete("/admin/queues/low").json() == {"priority": "low", "level": 0, "cancelled": 2}
    assert {Task.objects.get(pk=t.pk).status for t in low} == {TaskStatus.CANCELLED}
    assert Task.objects.get(pk=high.pk).status == TaskStatus.PENDING
    assert "priority" in error_of(staff_api.delete("/admin/queues/urgent"), 400)["fields"]


def test_003_the_django_admin_keeps_its_own_paths(admin_client):
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/admin/tasks/task/").status_code == 200


# --- document 004 ----------------------------------------------------------------


def test_004_status_all_and_stats(api):
    task = TaskFactory(status=TaskStatus.COMPLETED, result={"sent": True})
    # GET /api/tasks/status/:taskId
    status = api.get(f"/api/tasks/status/{task.id}").json()
    assert (status["status"], status["result"], status["error"]) == ("completed", {"sent": True}, "")
    # GET /api/tasks/all
    assert [t["id"] for t in api.get("/api/tasks/all").json()["results"]] == [str(task.id)]
    # GET /api/tasks/stats
    assert api.get("/api/tasks/stats").json()["completed_count"] == 1
    error_of(api.get("/api/tasks/status/not-a-task"), 404)


# --- document 002 ----------------------------------------------------------------


def test_002_enqueue_an_email(api):
    # curl -X POST http://localhost:8080/api/queue/email -d '{"to": ..., "subject": "Hello", "body": "Welcome!"}'
    response = post(api, "/api/queue/email", {"to": "user@example.com", "subject": "Hello", "body": "Welcome!"})
    assert response.status_code == 201, response.content
    task = response.json()
    assert (task["type"], task["queue"], task["status"]) == ("email", "default", "pending")
    assert task["payload"] == {"to": "user@example.com", "subject": "Hello", "body": "Welcome!"}


@pytest.mark.parametrize("name", ["critical", "default", "low"])
def test_002_priority_queues_land_where_workers_look_for_them(api, name):
    task = post(api, "/api/queue/email", {"to": "user@example.com", "queue": name, "max_retries": 5}).json()
    stored = Task.objects.get(pk=task["id"])
    assert (stored.queue, stored.max_retries) == (name, 5)


def test_002_delayed_email(api):
    task = post(api, "/api/queue/email/delayed", {"to": "user@example.com", "subject": "Later", "delay": 300}).json()
    assert task["status"] == "scheduled"
    wait = Task.objects.get(pk=task["id"]).run_at - timezone.now()
    assert timedelta(seconds=290) < wait <= timedelta(seconds=300)
    at = post(api, "/api/queue/email/delayed", {"to": "user@example.com", "process_at": "2030-01-01T09:00:00Z"})
    assert at.json()["scheduled_for"] == "2030-01-01T09:00:00Z"
    assert "delay" in error_of(post(api, "/api/queue/email/delayed", {"to": "user@example.com"}), 400)["fields"]
    assert "delay" in error_of(post(api, "/api/queue/email/delayed", {"to": "a@b.co", "delay": -1}), 400)["fields"]
    late = post(api, "/api/queue/email/delayed", {"to": "a@b.co", "process_at": "tomorrow"})
    assert "process_at" in error_of(late, 400)["fields"]


def test_002_bad_email_bodies_are_400s_that_name_the_field(api):
    assert "payload" in error_of(post(api, "/api/queue/email", {"subject": "no recipient"}), 400)["fields"]
    assert "colour" in error_of(post(api, "/api/queue/email", {"to": "a@b.co", "colour": "red"}), 400)["fields"]
    assert Task.objects.count() == 0


def test_002_queue_stats(api):
    TaskFactory(queue="critical")
    body = api.get("/api/queue/stats").json()
    assert body["pending_count"] == 1 and body["queues"]["critical"]["pending"] == 1


def test_compat_routes_need_a_token_like_the_rest(client):
    for path in ("/api/v1/tasks", "/admin/workers", "/admin/dlq", "/api/tasks/all", "/api/queue/stats"):
        assert client.get(path).status_code == 401, path


def test_a_queue_named_by_document_002_can_be_declared_and_paused(staff_api):
    assert staff_api.put("/api/queues/critical", format="json").status_code == 201
    assert Queue.objects.get(name="critical").paused is False
