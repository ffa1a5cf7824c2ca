"""What a newcomer's tests of the REST API found (issue 15), each pinned by a test."""

import pytest

from tasks.models import Task, TaskStatus
from tests.api_helpers import error_of, post
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


# --- 1. unknown query parameters, and bulk actions with no filter ------------


@pytest.mark.parametrize("path", [
    "/api/tasks?queu=dq", "/api/dead-letters?queu=dq", "/api/workers?stat=running", "/api/queues?x=1",
    "/api/tasks?status=pending&limt=5",
])
def test_a_list_names_an_unknown_query_parameter(staff_api, path):
    name = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    error = error_of(staff_api.get(path), 400, "invalid")
    assert list(error["fields"]) == [name] and "Unknown query parameter" in error["fields"][name][0]


def test_a_misspelt_filter_deletes_and_retries_nothing(staff_api):
    TaskFactory.create_batch(3, status=TaskStatus.FAILED, queue="other")
    TaskFactory(status=TaskStatus.FAILED, queue="dq")
    assert "queu" in error_of(staff_api.delete("/api/dead-letters?queu=dq"), 400)["fields"]
    assert "queu" in error_of(post(staff_api, "/api/dead-letters/retry?queu=dq"), 400)["fields"]
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 4
    assert post(staff_api, "/api/tasks/bulk?queu=dq", {"tasks": [{"type": "echo"}]}).status_code == 400


def test_a_bulk_action_without_a_filter_needs_all_true(staff_api):
    TaskFactory.create_batch(2, status=TaskStatus.FAILED, queue="other")
    TaskFactory(status=TaskStatus.FAILED, queue="dq")
    assert "all" in error_of(staff_api.delete("/api/dead-letters"), 400)["fields"]
    assert "all" in error_of(post(staff_api, "/api/dead-letters/retry"), 400)["fields"]
    assert "all" in error_of(staff_api.delete("/api/dead-letters?all=yes"), 400)["fields"]
    assert "all" in error_of(staff_api.get("/api/dead-letters?all=true"), 400)["fields"]  # a list has no "all"
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 3
    assert staff_api.delete("/api/dead-letters?queue=dq").json() == {"deleted": 1}
    assert post(staff_api, "/api/dead-letters/retry?all=true").json() == {"retried": 2}
    assert staff_api.delete("/api/dead-letters?all=true").json() == {"deleted": 0}


# --- 2. the schema: the filters of bulk actions, the event stream, the metrics ---


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    import yaml
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path, method", [("/api/dead-letters", "delete"), ("/api/dead-letters/retry", "post")])
def test_the_schema_gives_bulk_dead_letter_actions_their_filters(schema, path, method):
    names = {p["name"] for p in schema["paths"][path][method].get("parameters", [])}
    assert {"queue", "type", "search", "created_after", "all"} <= names
    assert "400" in schema["paths"][path][method]["responses"]


def test_the_schema_describes_events_and_metrics(schema):
    events = schema["paths"]["/api/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert {p["name"] for p in events["parameters"]} >= {"queue", "type", "event"}
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


# --- 7. one rule for a queue's existence, on every verb -----------------------


def test_every_verb_on_a_queue_that_does_not_exist_is_a_404_and_creates_nothing(staff_api):
    from tasks.models import Queue

    for response in (staff_api.get("/api/queues/ghost"), post(staff_api, "/api/queues/ghost/pause"),
                     post(staff_api, "/api/queues/ghost/resume"), post(staff_api, "/api/queues/ghost/purge"),
                     staff_api.patch("/api/queues/ghost", {"max_pending": 5}, format="json")):
        assert "ghost" in error_of(response, 404, "not_found")["message"]
    assert not Queue.objects.filter(name="ghost").exists()
    # A name that cannot be a queue's is a 400 with the task API's sentence, on every verb.
    for bad in ("q" * 101, "bad name", "semi;colon"):
        assert "name" in error_of(post(staff_api, f"/api/queues/{bad}/pause"), 400, "invalid")["fields"]
        assert "name" in error_of(staff_api.get(f"/api/queues/{bad}"), 400, "invalid")["fields"]
        assert "name" in error_of(staff_api.put(f"/api/queues/{bad}", format="json"), 400, "invalid")["fields"]
    assert not Queue.objects.exists()


def test_a_queue_with_a_task_or_a_row_takes_every_verb(staff_api):
    from tasks.models import Queue

    TaskFactory(queue="mail")
    assert post(staff_api, "/api/queues/mail/pause").json()["paused"] is True
    Queue.objects.create(name="empty")
    assert staff_api.patch("/api/queues/empty", {"max_pending": 5}, format="json").json()["max_pending"] == 5
    assert post(staff_api, "/api/queues/empty/purge").json() == {"queue": "empty", "cancelled": 0}


def test_put_declares_a_queue_before_its_first_task(staff_api, api):
    from tasks.models import Queue

    error_of(api.put("/api/queues/later", {}, format="json"), 403)
    created = staff_api.put("/api/queues/later", {"max_pending": 7}, format="json")
    assert created.status_code == 201 and created.json()["max_pending"] == 7
    assert staff_api.put("/api/queues/later", format="json").status_code == 200
    assert post(staff_api, "/api/queues/later/pause").json()["paused"] is True
    assert staff_api.get("/api/queues/later").status_code == 200
    assert Queue.objects.get(name="later").max_pending == 7
    refused = staff_api.put("/api/queues/later", {"max_pending": -1}, format="json")
    assert "max_pending" in error_of(refused, 400)["fields"]


# --- 4 and 6. the body: chunked bodies are read; one limit, QUEUE_API_MAX_BODY_BYTES ---


def test_a_3_mb_bulk_request_is_within_the_documented_10_mib(api):
    body = {"tasks": [{"type": "echo", "payload": "x" * 3000} for _ in range(1000)]}  # about 3 MB
    response = post(api, "/api/tasks/bulk", body)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["count"] == 1000


def test_the_body_limit_is_queue_api_max_body_bytes(api, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_MAX_BODY_BYTES": 1000}
    assert error_of(post(api, "/api/tasks", {"type": "echo", "payload": "x" * 1000}), 413, "too_large")
    assert post(api, "/api/tasks", {"type": "echo", "payload": "x" * 900}).status_code == 201


def chunks(data: bytes, size: int = 100):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_is_read_and_still_limited(web_server, user):
    import json

    import requests
    from rest_framework.authtoken.models import Token

    server = web_server(env={"QUEUE_API_MAX_BODY_BYTES": "5000"})
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}",
               "Content-Type": "application/json"}
    body = json.dumps({"type": "echo", "payload": {"hello": "chunks"}}).encode()
    created = requests.post(f"{server.url}/api/tasks", data=chunks(body), headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["payload"] == {"hello": "chunks"}
    bulk = json.dumps({"tasks": [{"type": "echo"}] * 3}).encode()
    bulk_created = requests.post(f"{server.url}/api/tasks/bulk", data=chunks(bulk), headers=headers, timeout=10)
    assert bulk_created.json()["count"] == 3
    large = json.dumps({"type": "echo", "payload": "x" * 6000}).encode()
    refused = requests.post(f"{server.url}/api/tasks", data=chunks(large, 1000), headers=headers, timeout=10)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large"
    assert Task.objects.count() == 4


# --- 5. waiting starts at the later of creation and scheduled_for -------------


@pytest.mark.django_db(transaction=True)
def test_a_past_scheduled_for_does_not_age_a_task(api):
    import time

    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.jobs import Outcome
    from tasks.models import Event
    from tasks.telemetry import metrics
    from tests.factories import WorkerFactory

    # The reference example's body (document 001, "advanced"): scheduled_for in 2025.
    body = {"type": "email", "payload": "user@example.com", "priority": 3, "max_retries": 3,
            "scheduled_for": "2025-12-06T18:30:00Z", "webhook": "https://example.com/webhook"}
    created = post(api, "/api/tasks", body).json()
    assert created["status"] == "pending" and created["scheduled_for"] == "2025-12-06T18:30:00Z"
    TaskFactory(priority=3)  # an ordinary task behind it in claim order, created after it
    assert api.get("/api/stats").json()["oldest_pending_age_seconds"] < 60
    assert api.get("/api/queues/default").json()["oldest_pending_age_seconds"] < 60
    gauge = [line for line in metrics.render().decode().splitlines()
             if line.startswith('taskqueue_queue_oldest_pending_age_seconds{queue="default"}')]
    assert gauge and float(gauge[0].split()[-1]) < 60

    worker = WorkerFactory()
    jobs = queue.claim(raw_cursor(), worker.id, ["default"], 2)
    now = time.time()
    queue.complete(raw_cursor(), worker.id, [Outcome(j.id, j.attempt, True, "1", None, now, now) for j in jobs])
    waits = [s for event in Event.objects.filter(event="task.started") for s in event.seconds]
    assert len(waits) == 2 and all(0 <= s < 60 for s in waits)  # what the queue-wait histogram counts
    details = api.get(f"/api/tasks/{created['id']}/details").json()
    assert 0 <= details["timings"]["waited_seconds"] < 60


@pytest.mark.parametrize("ages", [(3600, 0), (0, 3600), (600, 600)])
def test_the_oldest_wait_is_found_whichever_row_comes_first_in_claim_order(ages):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.telemetry import counters

    now = timezone.now()
    # A: created now, run_at a year ago (first in claim order, has not waited);
    # B: created and runnable `ages[0]` seconds ago; C: at another priority.
    TaskFactory(created_at=now, run_at=now - timedelta(days=365))
    TaskFactory(created_at=now - timedelta(seconds=ages[0]), run_at=now - timedelta(seconds=ages[0]))
    TaskFactory(priority=5, created_at=now - timedelta(seconds=ages[1]), run_at=now - timedelta(seconds=ages[1]))
    waited = (now - counters.oldest_pending("default")).total_seconds()
    assert abs(waited - max(ages)) < 5
