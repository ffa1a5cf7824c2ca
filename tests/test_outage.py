"""While PostgreSQL is away the service answers 503 with Retry-After, never a
500 with a traceback. A real web server against a port where nothing listens."""

import os
import socket
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_without_database(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgresql://127.0.0.1:{free_port()}/gone?connect_timeout=2"}
    env.pop("QUEUE_EMBEDDED_PGDATA", None)
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "queueproject.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base}/api/health", timeout=5).status_code
        except requests.ConnectionError:
            return None

    try:
        wait_for(up, timeout=60, message="the web server")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
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
