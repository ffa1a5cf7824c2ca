"""With the database gone, every API request answers 503 in the error shape
(never a 500 with a traceback), and the service recovers when it is back.
A real uvicorn server reaches PostgreSQL through a TCP proxy that the test cuts."""

import pytest
import requests

from tests.api_helpers import client_for
from tests.support.database import TcpProxy, api_server, proxied_database_url, upstream_address

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def proxy():
    proxy = TcpProxy(upstream_address())
    proxy.start()
    yield proxy
    proxy.cut()


def test_requests_while_the_database_is_unreachable_are_503s_and_the_service_recovers(proxy, user, tmp_path):
    token = client_for(user)._credentials["HTTP_AUTHORIZATION"]
    server = api_server(tmp_path / "server.log", database_url=proxied_database_url(proxy))
    headers = {"Authorization": token, "Content-Type": "application/json"}
    try:
        server.wait_ready()
        assert requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10).status_code == 200

        proxy.cut()
        calls = [
            ("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", "/api/stats"), ("GET", "/tasks"),
            ("POST", "/api/tasks/bulk"), ("GET", "/api/queues"), ("GET", "/api/workers"),
        ]
        for method, path in calls:
            response = requests.request(method, f"{server.url}{path}", headers=headers, timeout=10,
                                        json={"type": "echo"} if method == "POST" else None)
            assert response.status_code == 503, (method, path, response.text[:300])
            assert response.json()["error"]["code"] == "database_unavailable"
            assert response.headers["Retry-After"] == "5"
        health = requests.get(f"{server.url}/api/health", timeout=10)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert "Traceback" not in server.output

        proxy.start()
        assert requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10).status_code == 200
        created = requests.post(f"{server.url}/api/tasks", headers=headers, json={"type": "echo"}, timeout=10)
        assert created.status_code == 201
    finally:
        server.stop()
