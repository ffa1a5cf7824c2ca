"""API keys remembered per web process (tasks/api/authentication.py): one lookup
per key and interval, and a revoked key refused at once where it was
revoked, within QUEUE_API_TOKEN_CACHE seconds everywhere else."""

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tasks.models import ApiKey
from tests.api_helpers import client_for, error_of, key_for
from tests.factories import TaskFactory
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db


def token_lookups(queries) -> int:
    return sum('FROM "tasks_apikey"' in query["sql"] for query in queries.captured_queries)


def test_a_token_is_looked_up_once_then_remembered(user):
    api = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert api.get("/api/tasks").status_code == 200
    assert token_lookups(queries) == 1


def test_without_memory_every_request_looks_the_token_up(user, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_TOKEN_CACHE": 0}
    api = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert api.get("/api/tasks").status_code == 200
    assert token_lookups(queries) == 3


@pytest.mark.parametrize("revoke", ["revoke the key", "delete the key", "deactivate the user", "delete the user"])
def test_a_revoked_token_is_refused_at_once_by_the_process_that_revoked_it(user, revoke):
    api = client_for(user)
    assert api.get("/api/tasks").status_code == 200  # remembered from now on
    if revoke == "revoke the key":
        for key in ApiKey.objects.filter(user=user):
            key.revoked = True
            key.save()
    elif revoke == "delete the key":
        ApiKey.objects.filter(user=user).delete()
    elif revoke == "deactivate the user":
        user.is_active = False
        user.save()
    else:
        user.delete()
    error_of(api.get("/api/tasks"), 401)


def test_a_key_may_do_what_its_scopes_say_whatever_its_user_becomes(user, api):
    TaskFactory(queue="mail")
    assert api.post("/api/queues/mail/pause").status_code == 403
    user.is_staff = True
    user.save()
    assert api.post("/api/queues/mail/pause").status_code == 403  # the key has read and enqueue only


def test_another_process_refuses_a_revoked_token_within_the_interval(web_server, user):
    server = web_server(env={"QUEUE_API_TOKEN_CACHE": "1"})
    headers = {"Authorization": f"Token {key_for(user)}"}
    assert requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10).status_code == 200
    ApiKey.objects.filter(user=user).update(revoked=True)  # in this process: the server hears nothing of it
    wait_for(lambda: requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10).status_code == 401,
             timeout=10, message="the revoked token to be refused")
