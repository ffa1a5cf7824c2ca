"""Limits: rate limiting (429), backpressure (503), body size (413), CORS, and
idempotency under concurrent duplicates, with real connections and threads."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from tasks import queue
from tasks.models import Queue, Task
from tests.api_helpers import client_for, error_of, post
from tests.factories import TaskFactory


def with_queue_settings(settings, **values):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, **values}


# --- rate limiting -----------------------------------------------------------


@pytest.mark.django_db
def test_a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not(settings, api, staff_api):
    with_queue_settings(settings, API_RATE="3/minute")
    for _ in range(3):
        assert api.get("/api/stats").status_code == 200
    limited = api.get("/api/tasks")
    error_of(limited, 429, "throttled")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert staff_api.get("/api/stats").status_code == 200  # counted per client
    assert APIClient().get("/api/health").status_code == 200  # health is never limited


@pytest.mark.django_db
def test_rate_windows_reset(settings, api):
    with_queue_settings(settings, API_RATE="2/second")
    assert [api.get("/api/stats").status_code for _ in range(3)][-1] == 429
    time.sleep(1.05)
    assert api.get("/api/stats").status_code == 200


# --- backpressure ------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_queue_answers_503_with_retry_after_and_writes_nothing(settings, api):
    with_queue_settings(settings, MAX_PENDING=2, BACKPRESSURE_RETRY_AFTER=7)
    TaskFactory.create_batch(2, queue="default")
    TaskFactory.create_batch(5, queue="default", status="completed")  # only pending tasks count
    full = post(api, "/api/tasks", {"type": "echo"})
    error = error_of(full, 503, "queue_full")
    assert full["Retry-After"] == "7" and "'default'" in error["message"] and "at most 2" in error["message"]
    assert post(api, "/api/tasks", {"type": "echo", "queue": "other"}).status_code == 201
    error_of(post(api, "/api/tasks/bulk", {"tasks": [{"type": "echo", "queue": "other"}] * 2}), 503, "queue_full")
    assert Task.objects.filter(queue="other").count() == 1


@pytest.mark.django_db
def test_a_queues_own_limit_overrides_the_default(settings, api):
    with_queue_settings(settings, MAX_PENDING=0)
    Queue.objects.create(name="small", max_pending=1)
    assert post(api, "/api/tasks", {"type": "echo", "queue": "small"}).status_code == 201
    error_of(post(api, "/api/tasks", {"type": "echo", "queue": "small"}), 503, "queue_full")
    assert post(api, "/api/tasks", {"type": "echo"}).status_code == 201  # no default limit


@pytest.mark.django_db
def test_an_idempotent_repeat_is_answered_even_when_the_queue_is_full(settings, api):
    first = post(api, "/api/tasks", {"type": "echo", "idempotency_key": "once"})
    with_queue_settings(settings, MAX_PENDING=1)
    assert post(api, "/api/tasks", {"type": "echo", "idempotency_key": "once"}).json()["id"] == first.json()["id"]


# --- body size, CORS -----------------------------------------------------------


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_413_in_the_error_shape(settings, api):
    with_queue_settings(settings, API_MAX_BODY_BYTES=1000)
    big = post(api, "/api/tasks", {"type": "echo", "payload": "x" * 2000})
    assert "2000" in error_of(big, 413, "too_large")["message"] or "limit is 1000" in big.json()["error"]["message"]
    assert Task.objects.count() == 0
    assert post(api, "/api/tasks", {"type": "echo", "payload": "x" * 100}).status_code == 201


@pytest.mark.django_db
def test_cors_preflight_allows_configured_origins_only(settings, client):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type, idempotency-key"}
    allowed = client.options("/api/tasks", HTTP_ORIGIN="https://app.example.com", **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "idempotency-key" in allowed["Access-Control-Allow-Headers"]
    refused = client.options("/api/tasks", HTTP_ORIGIN="https://evil.example.com", **preflight)
    assert "Access-Control-Allow-Origin" not in refused
    health = client.get("/api/health", HTTP_ORIGIN="https://app.example.com")
    assert "Retry-After" in health["Access-Control-Expose-Headers"]
    with_queue_settings(settings, API_MAX_BODY_BYTES=10)
    too_large = client.post("/api/tasks", data='{"type": "echo"}', content_type="application/json",
                            HTTP_ORIGIN="https://app.example.com")
    assert too_large.status_code == 413  # and a browser may read why:
    assert too_large["Access-Control-Allow-Origin"] == "https://app.example.com"


# --- idempotency under concurrency -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_over_http_create_one_task(user):
    def create(_):
        client = client_for(user)
        try:
            return post(client, "/api/tasks", {"type": "echo", "payload": "once", "idempotency_key": "storm"})
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(create, range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Task.objects.filter(idempotency_key="storm").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_waits_for_the_uncommitted_first_insert_and_returns_it():
    """The race itself: the second insert blocks on the unique index until the
    first transaction commits, then returns the first task."""
    holding, release = threading.Event(), threading.Event()
    results = {}

    def first():
        with transaction.atomic():
            results["first"] = queue.enqueue_idempotent(queue.build("echo", 1, idempotency_key="race"))
            holding.set()
            release.wait(10)
        connection.close()

    def second():
        results["second"] = queue.enqueue_idempotent(queue.build("echo", 2, idempotency_key="race"))
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    time.sleep(0.5)
    assert threads[1].is_alive(), "the duplicate should wait for the first transaction"
    release.set()
    for thread in threads:
        thread.join(10)
    (first_task, created), (second_task, second_created) = results["first"], results["second"]
    assert created and not second_created
    assert second_task.id == first_task.id and second_task.payload == 1
    assert Task.objects.count() == 1
