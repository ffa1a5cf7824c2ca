"""Creating a task from the dashboard: both tabs, and the API's own error messages."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db

URL = "/dashboard/tasks/new/"


def create(client, **fields):
    return client.post(URL, {"tab": "advanced", "queue": "default", "priority": "0", **fields})


def test_the_form_has_a_basic_and_an_advanced_tab(staff_client):
    basic = staff_client.get(URL).content.decode()
    assert 'data-tab="basic" aria-selected="true"' in basic
    assert 'data-panel="advanced" hidden disabled' in basic
    advanced = staff_client.get(URL + "?tab=advanced").content.decode()
    assert 'data-tab="advanced" aria-selected="true"' in advanced
    assert 'data-panel="advanced">' in advanced
    for name in ("type", "payload", "priority", "scheduled_for", "max_retries", "timeout", "webhook", "queue"):
        assert f'name="{name}"' in advanced
    assert '<option value="email">email</option>' in advanced


def test_basic_tab_creates_a_pending_task_and_shows_it(staff_client):
    response = staff_client.post(URL, {"tab": "basic", "type": "echo", "payload": '{"n": 1}'})
    task = Task.objects.get()
    assert response.status_code == 302 and response.url == f"/dashboard/tasks/{task.pk}/"
    assert (task.type, task.payload, task.status, task.priority, task.queue) == ("echo", {"n": 1}, "pending", 0, "default")
    assert task.max_retries == 3  # QUEUE_DEFAULT_MAX_RETRIES


def test_basic_tab_ignores_advanced_fields_a_request_adds(staff_client):
    staff_client.post(URL, {"tab": "basic", "type": "echo", "payload": "x", "priority": "999", "queue": "bad queue"})
    task = Task.objects.get()
    assert (task.priority, task.queue) == (0, "default")


@pytest.mark.parametrize(
    ("text", "payload"),
    [("user@example.com", "user@example.com"), ('"quoted"', "quoted"), ("42", 42),
     ('{"to": "a@example.com"}', {"to": "a@example.com"}), ("", None), ("[1, 2]", [1, 2])],
)
def test_payload_is_json_or_else_plain_text(staff_client, text, payload):
    assert create(staff_client, type="echo", payload=text).status_code == 302
    assert Task.objects.get().payload == payload


def test_advanced_tab_sets_every_option(staff_client):
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    response = create(
        staff_client, type="email", payload="user@example.com", priority="5", max_retries="2", timeout="30",
        webhook="https://example.com/hook", queue="emails", scheduled_for=when.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert task.status == TaskStatus.SCHEDULED and task.run_at == when  # read in TIME_ZONE (UTC)
    assert (task.priority, task.max_retries, task.timeout, task.queue) == (5, 2, 30.0, "emails")
    assert task.webhook == "https://example.com/hook"


def test_a_schedule_with_a_zone_is_taken_as_given(staff_client):
    create(staff_client, type="echo", scheduled_for="2099-01-01T09:00:00+02:00")
    assert Task.objects.get().run_at == datetime(2099, 1, 1, 7, 0, tzinfo=UTC)


# (form fields, API body): the same bad input through both doors.
SAME_AS_API = [
    ({"type": "no-such-type"}, {"type": "no-such-type"}),
    ({"type": "email", "payload": "not an address"}, {"type": "email", "payload": "not an address"}),
    ({"type": "echo", "priority": "500"}, {"type": "echo", "priority": 500}),
    ({"type": "echo", "max_retries": "-1"}, {"type": "echo", "max_retries": -1}),
    ({"type": "echo", "timeout": "0"}, {"type": "echo", "timeout": 0}),
    ({"type": "echo", "queue": "has spaces"}, {"type": "echo", "queue": "has spaces"}),
    ({"type": "echo", "webhook": "ftp://example.com/x"}, {"type": "echo", "webhook": "ftp://example.com/x"}),
    ({"type": "webhook", "payload": '{"body": {}}'}, {"type": "webhook", "payload": {"body": {}}}),
]


@pytest.mark.parametrize(("fields", "body"), SAME_AS_API)
def test_bad_input_is_shown_next_to_its_field_with_the_api_message_and_writes_nothing(staff_client, staff, fields, body):
    response = create(staff_client, **fields)
    assert response.status_code == 400
    assert not Task.objects.exists()
    form_errors = response.context["form"].errors

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    api_errors = api.post("/api/tasks", json.dumps(body), content_type="application/json").json()["error"]["fields"]

    assert set(form_errors) == set(api_errors)
    for field, messages in api_errors.items():
        assert form_errors[field] == messages
        html = response.content.decode()
        assert f'<p class="field-error" id="{field}-error">' in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"payload": '{"broken": '}, "payload", "The payload must be JSON"),
        ({"priority": "high"}, "priority", "Priority must be a whole number."),
        ({"max_retries": "lots"}, "max_retries", "max_retries must be a whole number"),
        ({"timeout": "soon"}, "timeout", "timeout must be a number of seconds"),
        ({"scheduled_for": "tomorrow"}, "scheduled_for", "The time must be a date and time"),
        ({"type": ""}, "type", "This field is required."),
    ],
)
def test_text_that_is_not_a_value_is_refused_with_a_sentence(staff_client, fields, field, message):
    response = create(staff_client, **{"type": "echo", **fields})
    assert response.status_code == 400
    assert response.context["form"].errors[field][0].startswith(message)
    assert response.context["tab"] == "advanced"  # the operator stays where the error is
    assert not Task.objects.exists()


def test_creating_is_for_staff_only(client, member_client):
    assert client.post(URL, {"type": "echo"}).status_code == 302
    assert member_client.post(URL, {"type": "echo"}).status_code == 403
    assert not Task.objects.exists()
