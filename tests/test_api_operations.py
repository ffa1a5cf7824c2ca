"""Operators' endpoints: workers, queues, dead letters, stats, health, and who may use them."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import queue
from tasks.maintenance import fold_stats
from tasks.models import Queue, StatCount, StatDelta, StatMinute, Task, TaskStatus, Worker, WorkerState
from tasks.telemetry import counters, summary
from tests.api_helpers import error_of, post
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db


# --- workers -----------------------------------------------------------------


def test_workers_list_and_detail(api):
    alive = WorkerFactory(queues=["default", "mail"])
    dead = WorkerFactory(last_heartbeat=timezone.now() - timedelta(minutes=5))
    TaskFactory(status=TaskStatus.PROCESSING, worker_id=alive.id)
    listed = api.get("/api/workers").json()["results"]
    assert [(w["id"], w["alive"]) for w in listed] == [(str(dead.id), False), (str(alive.id), True)]
    assert api.get("/api/workers?alive=true").json()["results"][0]["id"] == str(alive.id)
    assert [w["id"] for w in api.get("/api/workers/?alive=false").json()["results"]] == [str(dead.id)]
    assert "alive" in error_of(api.get("/api/workers?alive=maybe"), 400)["fields"]
    detail = api.get(f"/api/workers/{alive.id}").json()
    assert detail["queues"] == ["default", "mail"] and detail["name"] == f"test-host:{alive.pid}"
    assert len(detail["running"]) == 1 and detail["heartbeat_age_seconds"] < 5


def test_staff_pause_and_resume_a_worker_others_get_403(api, staff_api):
    worker = WorkerFactory()
    error_of(post(api, f"/api/workers/{worker.id}/pause"), 403, "permission_denied")
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING
    assert post(staff_api, f"/api/workers/{worker.id}/pause").json()["state"] == "paused"
    assert post(staff_api, f"/api/workers/{worker.id}/pause/").json()["state"] == "paused"  # idempotent
    assert post(staff_api, f"/api/workers/{worker.id}/resume").json()["state"] == "running"
    stopped = WorkerFactory(state=WorkerState.STOPPED)
    assert "is stopped" in error_of(post(staff_api, f"/api/workers/{stopped.id}/pause"), 409, "conflict")["message"]


# --- queues ------------------------------------------------------------------


def test_queues_list_depths_pause_resume_and_limits(api, staff_api):
    TaskFactory.create_batch(3, queue="mail")
    TaskFactory(queue="mail", status=TaskStatus.FAILED)
    TaskFactory(queue="default")
    listed = {q["name"]: q for q in api.get("/api/queues").json()}
    assert listed["mail"]["counts"]["pending"] == 3 and listed["mail"]["counts"]["failed"] == 1
    assert listed["mail"]["paused"] is False and listed["mail"]["oldest_pending_age_seconds"] >= 0
    assert listed["default"]["counts"]["pending"] == 1

    error_of(post(api, "/api/queues/mail/pause"), 403)
    assert post(staff_api, "/api/queues/mail/pause").json()["paused"] is True
    assert Queue.is_paused("mail")
    assert post(staff_api, "/api/queues/mail/resume/").json()["paused"] is False
    limited = staff_api.patch("/api/queues/mail", {"max_pending": 10}, format="json")
    assert (limited.json()["max_pending"], limited.json()["pending_limit"]) == (10, 10)
    assert "max_pending" in error_of(staff_api.patch("/api/queues/mail", {"max_pending": -1}, format="json"),
                                     400)["fields"]
    error_of(api.get("/api/queues/nothing-here"), 404, "not_found")


def test_purge_cancels_a_queues_waiting_tasks_only(api, staff_api):
    waiting = [TaskFactory(queue="bulk"), TaskFactory(queue="bulk", status=TaskStatus.SCHEDULED)]
    running = TaskFactory(queue="bulk", status=TaskStatus.PROCESSING)
    other = TaskFactory(queue="default")
    error_of(post(api, "/api/queues/bulk/purge"), 403)
    assert post(staff_api, "/api/queues/bulk/purge").json() == {"queue": "bulk", "cancelled": 2}
    assert {Task.objects.get(pk=t.pk).status for t in waiting} == {TaskStatus.CANCELLED}
    assert Task.objects.get(pk=running.pk).status == TaskStatus.PROCESSING
    assert Task.objects.get(pk=other.pk).status == TaskStatus.PENDING
    assert post(staff_api, "/api/queues/bulk/purge/").json() == {"queue": "bulk", "cancelled": 0}


# --- dead letters ------------------------------------------------------------


def test_dead_letters_list_retry_filtered_and_delete(api, staff_api):
    mail = TaskFactory.create_batch(2, status=TaskStatus.FAILED, queue="mail", type="email", payload="a@example.com")
    other = TaskFactory(status=TaskStatus.FAILED, queue="default")
    TaskFactory(status=TaskStatus.COMPLETED)
    listed = api.get("/api/dead-letters").json()["results"]
    assert [t["id"] for t in listed] == [str(other.id), str(mail[1].id), str(mail[0].id)]
    assert len(api.get("/api/dead-letters?queue=mail").json()["results"]) == 2

    error_of(post(api, "/api/dead-letters/retry?queue=mail"), 403)
    assert post(staff_api, "/api/dead-letters/retry?queue=mail").json() == {"retried": 2}
    assert {Task.objects.get(pk=t.pk).status for t in mail} == {TaskStatus.PENDING}

    error_of(api.delete("/api/dead-letters?all=true"), 403)
    assert staff_api.delete("/api/dead-letters/?all=true").json() == {"deleted": 1}
    assert not Task.objects.filter(pk=other.pk).exists()
    assert Task.objects.count() == 3  # the retried two and the completed one stay


# --- stats and health --------------------------------------------------------


def test_stats_has_the_reference_fields_then_ours(api):
    TaskFactory.create_batch(2)
    TaskFactory(status=TaskStatus.FAILED, queue="mail")
    WorkerFactory()
    fold_stats.run_once(timezone.now())
    TaskFactory(status=TaskStatus.SCHEDULED)  # not folded yet: still counted
    body = api.get("/api/stats").json()
    reference = {"total_tasks": 4, "pending_count": 2, "processing_count": 0, "completed_count": 0,
                 "failed_count": 1, "scheduled_count": 1, "worker_count": 1}
    assert {key: body[key] for key in reference} == reference
    assert body["cancelled_count"] == 0 and body["queues"]["mail"]["failed"] == 1
    assert set(body["throughput"]) == {"last_minute", "last_hour"}
    assert body["oldest_pending_age_seconds"] >= 0
    assert body == {**summary.stats(), "oldest_pending_age_seconds": body["oldest_pending_age_seconds"]}


def test_stats_throughput_counts_full_minutes_of_the_last_hour(api):
    if timezone.now().second >= 58:
        time.sleep(3)  # the request must see the same current minute as the rows below
    minute = timezone.now().replace(second=0, microsecond=0)
    for minutes_ago, count in ((0, 1000), (1, 7), (60, 5), (61, 300)):
        StatMinute.objects.create(bucket=minute - timedelta(minutes=minutes_ago), queue="default",
                                  status="completed", count=count)
    StatMinute.objects.create(bucket=minute - timedelta(minutes=1), queue="mail", status="failed", count=2)
    throughput = api.get("/api/stats").json()["throughput"]
    # The current minute (1000) is still filling; 61 minutes ago (300) is over an hour.
    assert throughput == {"last_minute": {"completed": 7, "failed": 2}, "last_hour": {"completed": 12, "failed": 2}}


@pytest.mark.parametrize("read", ["stats", "post"])
def test_with_no_worker_folding_the_counters_a_reader_does_it_once_they_pile_up(transactional_db, api, monkeypatch,
                                                                                 settings, read):
    # Outside a test transaction: readers never fold inside a caller's transaction.
    # A producer reads the counters only under a backpressure limit.
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "MAX_PENDING": 1000}
    monkeypatch.setattr(counters, "MAX_BEHIND", 50)
    monkeypatch.setattr(counters, "_next_look", 0.0)  # whatever earlier tests did in this process
    for n in range(60):  # one statement each: a delta each, and no housekeeping runs here
        queue.enqueue("echo", n)
    assert StatDelta.objects.count() >= 60
    if read == "stats":
        assert api.get("/api/stats").json()["pending_count"] == 60
    else:
        assert post(api, "/api/tasks", {"type": "echo", "payload": 60}).status_code == 201
    assert StatDelta.objects.count() <= 1  # folded by the read (the POST's own delta comes after)
    assert StatCount.objects.get(queue="default", status="pending").count >= 60
    assert summary.stats()["pending_count"] == (60 if read == "stats" else 61)


def test_health_reports_workers_without_a_token(client):
    WorkerFactory(state=WorkerState.PAUSED)
    WorkerFactory(last_heartbeat=timezone.now() - timedelta(minutes=5))
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert (body["workers"], body["workers_paused"]) == (1, 1)
    assert body["last_heartbeat_age_seconds"] < 5


def test_every_endpoint_but_health_and_the_schema_needs_a_token(client):
    for path in ("/api/tasks", "/api/stats", "/api/workers", "/api/queues", "/api/dead-letters",
                 "/api/tasks/0190a000-0000-7000-8000-000000000001/details"):
        error_of(client.get(path), 401, "not_authenticated")
    error_of(client.post("/api/tasks/bulk", {}, content_type="application/json"), 401)
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/schema").status_code == 200
