"""API keys (tasks/models/api_key.py, tasks/api/authentication.py): hashed at
rest, scoped, expiring, revocable; sessions need a scope too (issue 15, bug 9);
failed authentications are rate limited per address (issue 15, bug 10)."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.access import Scope
from tasks.models import ApiKey, Task
from tests.api_helpers import client_for, error_of, key_for
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_keys_are_stored_hashed_with_only_their_prefix_in_clear(user):
    key = key_for(user, [Scope.READ])
    prefix, secret = key.split(".")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tasks_apikey")
        rows = cursor.fetchall()
    text = json.dumps(rows, default=str)
    assert len(rows) == 1 and prefix in text
    assert secret not in text and key not in text
    assert ApiKey.objects.get().hashed_key.startswith("sha512$$")


def test_each_key_is_new_and_a_user_may_have_several(user):
    keys = {key_for(user, [Scope.READ], name=f"k{i}") for i in range(3)}
    assert len(keys) == 3 and ApiKey.objects.filter(user=user).count() == 3
    for key in keys:
        api = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
        assert api.get("/api/tasks").status_code == 200


@pytest.mark.parametrize("keyword", ["Token", "Api-Key", "Bearer"])
def test_a_key_is_accepted_under_the_usual_keywords(user, keyword):
    api = APIClient(HTTP_AUTHORIZATION=f"{keyword} {key_for(user, [Scope.READ])}")
    assert api.get("/api/stats").status_code == 200


def test_a_wrong_secret_with_a_real_prefix_is_refused(user):
    prefix = key_for(user, [Scope.READ]).split(".")[0]
    error_of(APIClient(HTTP_AUTHORIZATION=f"Token {prefix}.{'x' * 32}").get("/api/tasks"), 401)


def test_a_key_does_what_its_scopes_allow_and_nothing_else(user):
    reader = client_for(user, [Scope.READ])
    producer = client_for(user, [Scope.ENQUEUE])
    body = json.dumps({"type": "echo"})
    assert reader.get("/api/tasks").status_code == 200
    error = error_of(reader.post("/api/tasks", body, content_type="application/json"), 403)
    assert "enqueue" in error["message"]
    assert producer.post("/api/tasks", body, content_type="application/json").status_code == 201
    error_of(producer.get("/api/tasks"), 403)


def test_an_expired_key_is_refused_at_its_expiry_even_when_remembered(user):
    row, key = ApiKey.objects.issue(user, "short", [Scope.READ], expires=timezone.now() + timedelta(hours=1))
    api = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/tasks").status_code == 200  # remembered from now on
    ApiKey.objects.filter(pk=row.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))  # no signal
    assert api.get("/api/tasks").status_code == 200  # the remembered expiry is still ahead
    past, old = ApiKey.objects.issue(user, "old", [Scope.READ], expires=timezone.now() - timedelta(seconds=1))
    error = error_of(APIClient(HTTP_AUTHORIZATION=f"Token {old}").get("/api/tasks"), 401)
    assert "expired" in error["message"] or "revoked" in error["message"]


@pytest.mark.django_db(transaction=True)
def test_a_key_works_while_the_database_refuses_writes(user, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_RATE": ""}  # the rate limit's own count is a write
    key = key_for(user, [Scope.READ])
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")  # as a standby answers, this connection only
    try:
        assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/tasks").status_code == 200
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
    assert ApiKey.objects.get().last_used is None  # not written, and the request was served


def test_last_used_is_recorded(user):
    key = key_for(user, [Scope.READ])
    assert ApiKey.objects.get().last_used is None
    APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/tasks")
    assert ApiKey.objects.get().last_used is not None


def test_legacy_tokens_keep_working_with_their_users_scopes(django_user_model):
    TaskFactory(queue="mail")
    plain = django_user_model.objects.create_user("legacy")
    staff = django_user_model.objects.create_user("legacy-staff", is_staff=True)
    plain_api = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain).key}")
    staff_api = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert plain_api.post("/api/tasks", json.dumps({"type": "echo"}), content_type="application/json").status_code == 201
    assert plain_api.get("/api/tasks").status_code == 200
    error_of(plain_api.post("/api/queues/mail/pause"), 403)
    assert staff_api.post("/api/queues/mail/pause").status_code == 200


# Bug 9: a session needs a scope, as on the dashboard.
@pytest.mark.parametrize("path", ["/api/tasks", "/api/stats", "/api/workers", "/api/queues", "/api/dead-letters",
                                  "/api/events", "/tasks", "/stats"])
def test_a_signed_in_user_without_a_scope_gets_403(django_user_model, path):
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("host-user"))
    error_of(client.get(path), 403)


def test_a_session_reads_with_the_read_scope_and_staff_reads_everything(django_user_model):
    viewer = django_user_model.objects.create_user("viewer")
    viewer.groups.add(Group.objects.get(name="Queue viewers"))
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    for user in (viewer, staff):
        client = APIClient()
        client.force_login(user)
        assert client.get("/api/tasks").status_code == 200
        assert client.get("/api/stats").status_code == 200
    client = APIClient()
    client.force_login(viewer)
    error_of(client.post("/api/queues/mail/pause"), 403)


# Bug 10: failed authentications are counted per address.
@pytest.mark.parametrize("authorization", [None, "Token " + "f" * 40, "Token nope.nope"])
def test_failed_authentications_are_rate_limited_per_address(settings, user, authorization):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "5/minute"}
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    attacker = APIClient(REMOTE_ADDR="203.0.113.9", **headers)
    statuses = [attacker.get("/api/tasks").status_code for _ in range(8)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
    refused = attacker.get("/api/tasks")
    assert int(refused["Retry-After"]) >= 1
    # Even a good key from that address waits (no telling right guesses from wrong ones) ...
    good = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Token {key_for(user)}")
    assert good.get("/api/tasks").status_code == 429
    # ... while other addresses are served.
    other = APIClient(REMOTE_ADDR="198.51.100.7", HTTP_AUTHORIZATION=f"Token {key_for(user)}")
    assert other.get("/api/tasks").status_code == 200
    assert APIClient(REMOTE_ADDR="198.51.100.7").get("/api/tasks").status_code == 401
    assert Task.objects.count() == 0


def test_successful_requests_do_not_count_as_failures(settings, user):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "3/minute"}
    api = client_for(user)
    assert all(api.get("/api/tasks").status_code == 200 for _ in range(10))


def test_the_event_stream_counts_failures_too(settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "2/minute"}
    client = APIClient(REMOTE_ADDR="203.0.113.10")
    assert [client.get("/api/events").status_code for _ in range(3)] == [401, 401, 429]


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "3/minute"}
    statuses = [APIClient(REMOTE_ADDR="203.0.113.11", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").get("/api/tasks").status_code
                for n in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
