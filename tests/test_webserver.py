"""The web server as `make run` starts it (queueproject/webserver.py: granian,
WSGI, a pool of threads per process): keep-alive requests on several
processes, and event streams that hold a thread each but never a database
connection, within QUEUE_MAX_STREAMS per process."""

import http.client

import pytest
import requests
from rest_framework.authtoken.models import Token

from queueproject import webserver
from tasks import queue
from tests.support.processes import wait_for
from tests.support.web import EventReader


@pytest.fixture
def auth(django_user_model):
    user = django_user_model.objects.create_user("streams")
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def option(name: str) -> str:
    return webserver.DEFAULTS[webserver.DEFAULTS.index(name) + 1]


def test_the_launcher_serves_the_wsgi_application_with_as_many_requests_in_progress_as_threads(settings):
    assert option("--interface") == "wsgi" and webserver.APPLICATION == "queueproject.wsgi:application"
    assert option("--blocking-threads") == option("--backpressure") == webserver.THREADS
    assert int(option("--workers-kill-timeout")) <= 10  # open streams never end by themselves
    assert webserver.THREADS == str(settings.WEB_THREADS)  # one default, read by both
    # Streams take what is left when each pooled connection has its thread.
    assert settings.TASK_QUEUE["MAX_STREAMS"] == settings.WEB_THREADS - settings.DATABASES["default"].get(
        "OPTIONS", {}).get("pool", {}).get("max_size", 8)


def test_two_web_processes_serve_keep_alive_requests(web_server):
    server = web_server(processes=2)
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(5):  # one connection, kept alive
        client.request("GET", "/api/health")
        response = client.getresponse()
        assert response.status == 200, response.read()
        assert b'"status"' in response.read()
    client.close()


@pytest.mark.parametrize("streams", [1, 2])
def test_streams_beyond_the_limit_are_refused_and_a_closed_one_frees_its_place(web_server, auth, streams):
    # One connection in the pool: a stream that kept its request's connection
    # would leave none for the requests below (they would wait, then get 503).
    server = web_server(env={"QUEUE_MAX_STREAMS": str(streams), "DB_POOL_MAX_SIZE": "1"})
    readers = [EventReader(f"{server.url}/api/events", auth) for _ in range(streams)]
    assert requests.get(f"{server.url}/api/stats", headers=auth, timeout=10).status_code == 200

    refused = requests.get(f"{server.url}/api/events", headers=auth, timeout=10)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "too_many_streams" and refused.headers["Retry-After"] == "5"

    readers.pop().close()
    # The server learns that a client left when it next writes to it: an event
    # (or a keep-alive comment, 15 s later at the latest). Then the place is free.
    queue.enqueue("echo", 1)
    wait_for(lambda: opens(f"{server.url}/api/events", auth), timeout=20, message="a free place")
    for reader in readers:
        reader.close()


def opens(url: str, headers: dict) -> bool:
    with requests.get(url, headers=headers, stream=True, timeout=10) as response:
        return response.status_code == 200
