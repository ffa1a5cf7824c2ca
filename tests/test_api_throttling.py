"""Rate limits counted in memory and shared in batches (tasks/api/throttling.py):
exact refusals near the limit, one statement per many requests, and one limit
for every web process, with real servers."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rest_framework.authtoken.models import Token

from tasks.api import throttling
from tasks.models import RateWindow
from tests.api_helpers import error_of


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1, 2, 5, 40])
def test_a_client_gets_exactly_its_limit_in_one_process(settings, api, limit):
    # Per hour: a test that ran across the start of a new window would see two limits.
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_RATE": f"{limit}/hour"}
    codes = [api.get("/api/tasks").status_code for _ in range(limit + 3)]
    assert codes == [200] * limit + [429] * 3
    error_of(api.get("/api/tasks"), 429, "throttled")


@pytest.mark.django_db
def test_the_shared_count_holds_what_was_admitted_once_synchronised():
    for _ in range(100):
        throttling.hit("user:test", 1000, 3600)
    row = RateWindow.objects.get(key="user:test")
    assert 100 - 1000 // throttling.SHARE <= row.count <= 100  # the rest is counted at the next synchronisation


@pytest.mark.django_db(transaction=True)
def test_two_web_servers_share_one_limit(web_server, django_user_model):
    """Two processes, each counting in memory: together they admit the limit, and
    at most the documented overshoot, never twice the limit."""
    limit = 60
    env = {"QUEUE_API_RATE": f"{limit}/hour"}
    servers = [web_server(env=env), web_server(env=env)]
    user = django_user_model.objects.create_user("shared")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}

    def get(n):
        return requests.get(f"{servers[n % 2].url}/api/tasks", headers=headers, timeout=20).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(get, range(3 * limit)))
    admitted = codes.count(200)
    assert codes.count(429) == len(codes) - admitted
    assert limit <= admitted <= limit + 2 * limit // throttling.SHARE + 2, admitted
