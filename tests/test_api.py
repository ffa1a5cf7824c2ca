"""The first slice of the REST API: create, read, health; token auth; one error shape."""

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db

TASK_FIELDS = {"id", "type", "payload", "status", "priority", "max_retries", "retry_count",
               "created_at", "updated_at"}


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user("alice")
    return Token.objects.create(user=user).key


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post(api, body, path="/api/tasks"):
    return api.post(path, data=json.dumps(body), content_type="application/json")


def test_create_basic_task_returns_201_with_the_reference_fields(api):
    response = post(api, {"type": "email", "payload": "user@example.com"})
    assert response.status_code == 201
    body = response.json()
    assert TASK_FIELDS <= set(body)
    assert body["status"] == "pending" and body["payload"] == "user@example.com"
    assert body["retry_count"] == 0 and body["max_retries"] == 3 and body["priority"] == 0
    assert Task.objects.get(pk=body["id"]).type == "email"


def test_create_advanced_task_with_priority_schedule_retries_and_webhook(api):
    when = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    response = post(api, {
        "type": "email", "payload": "user@example.com", "priority": 5, "max_retries": 3,
        "scheduled_for": when.isoformat().replace("+00:00", "Z"),
        "webhook": "https://example.com/webhook", "queue": "emails", "timeout": 30,
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled"
    assert (body["priority"], body["max_retries"], body["queue"], body["timeout"]) == (5, 3, "emails", 30.0)
    assert body["webhook"] == "https://example.com/webhook"
    assert body["scheduled_for"].startswith(when.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "nope", "payload": 1}, "type"),
        ({"payload": 1}, "type"),
        ({"type": "echo", "priority": 500}, "priority"),
        ({"type": "echo", "priority": "high"}, "priority"),
        ({"type": "echo", "scheduled_for": "tomorrow-ish"}, "scheduled_for"),
        ({"type": "echo", "scheduled_for": "2030-01-01T10:00:00"}, "scheduled_for"),
        ({"type": "echo", "max_retries": -2}, "max_retries"),
        ({"type": "echo", "webhook": "javascript:alert(1)"}, "webhook"),
        ({"type": "email", "payload": {"subject": "no recipient"}}, "payload"),
        ({"type": "echo", "colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, body, field):
    response = post(api, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"] and field in error["message"]
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert Task.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(api):
    response = api.post("/api/tasks", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert Task.objects.count() == 0


def test_get_task_with_and_without_trailing_slash(api):
    task_id = post(api, {"type": "echo", "payload": {"a": 1}}).json()["id"]
    for path in (f"/api/tasks/{task_id}", f"/api/tasks/{task_id}/"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.json()["payload"] == {"a": 1}


def test_unknown_task_and_unknown_path_are_json_404s(api):
    assert api.get("/api/tasks/00000000-0000-0000-0000-000000000000").json()["error"]["code"] == "not_found"
    response = api.get("/api/tasks/not-a-uuid")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_tasks_need_a_token_but_health_does_not(token):
    anonymous = APIClient()
    response = anonymous.post("/api/tasks", {"type": "echo"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert bad.get("/api/tasks/00000000-0000-0000-0000-000000000000").status_code == 401
    health = anonymous.get("/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"] == "ok"


def test_over_real_http_with_curl_style_requests(live_server, token):
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    created = requests.post(f"{live_server.url}/api/tasks", headers=headers, timeout=10,
                            data=json.dumps({"type": "echo", "payload": "hi", "priority": 3}))
    assert created.status_code == 201
    fetched = requests.get(f"{live_server.url}/api/tasks/{created.json()['id']}", headers=headers, timeout=10)
    assert fetched.json()["status"] == TaskStatus.PENDING
    health = requests.get(f"{live_server.url}/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "degraded"  # a task waits, no worker runs
