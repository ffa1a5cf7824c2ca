"""While PostgreSQL is away the service answers 503 with Retry-After, never a
500 with a traceback. A real web server against a port where nothing listens."""

import os
import uuid

import pytest
import requests

from tests.support.processes import free_port
from tests.support.web import WebServer

pytestmark = pytest.mark.slow


@pytest.fixture
def server_without_database(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"postgresql://127.0.0.1:{free_port()}/gone?connect_timeout=2"}
    env.pop("QUEUE_EMBEDDED_PGDATA", None)
    server = WebServer(env, tmp_path / "web.log", wait=False)
    try:
        server.wait_ready(timeout=60, healthy=False)
        yield server.url
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "web.log").read_text()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/tasks", {"type": "echo", "payload": 1}),
    ("GET", f"/api/tasks/{uuid.uuid4()}", None),
])
def test_api_requests_get_a_503_in_the_error_shape(server_without_database, method, path, body):
    response = requests.request(method, server_without_database + path, json=body, timeout=10,
                                headers={"Authorization": "Token " + "a" * 40})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["message"] and "Traceback" not in response.text


def test_health_and_pages_say_503_too(server_without_database):
    health = requests.get(server_without_database + "/api/health", timeout=10)
    assert health.status_code == 503 and health.json()["database"].startswith("unreachable")
    page = requests.get(server_without_database + "/dashboard/", cookies={"sessionid": "x" * 32}, timeout=10)
    assert page.status_code == 503 and "database is unavailable" in page.text
