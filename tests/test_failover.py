"""High availability: a write that reaches a read-only server is a 503 and a
reconnect, never a 500; the service and a worker on a multi-host URL ride
through a failover; monitoring reads go to the replica, reads of one's own
writes never do. The slow tests start their own primary and streaming standby
(tests/support/pgcluster.py, shared with the fault suite)."""

import os
import re

import psycopg
import pytest
import requests
from django.db import connection

from tests.api_helpers import client_for
from tests.support.pgcluster import ReplicaPair
from tests.support.processes import FAST_QUEUE_ENV, ROOT, WorkerProcess, wait_for
from tests.support.web import WebServer


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_as_read_only_is_a_503_and_the_next_request_reconnects(user):
    client = client_for(user)
    with connection.cursor() as cursor:
        # What a standby answers to every write (SQLSTATE 25006), on this thread's connection only.
        cursor.execute("SET default_transaction_read_only = on")
    refused = client.post("/api/tasks", {"type": "echo"}, format="json")
    assert refused.status_code == 503, refused.content
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert refused["Retry-After"] == "5"
    # The connection to the "standby" was discarded, so the next request finds a writable server.
    assert client.post("/api/tasks", {"type": "echo"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_health_tells_a_reachable_database_from_a_writable_primary():
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    from rest_framework.test import APIClient

    health = APIClient().get("/api/health")
    assert health.status_code == 503
    body = health.json()
    assert (body["status"], body["database"], body["primary"]) == ("unavailable", "ok", "read-only")
    assert "does not take writes" in body["problems"][0]
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = off")
    healthy = APIClient().get("/api/health").json()
    assert (healthy["database"], healthy["primary"]) == ("ok", "writable") and "replica" not in healthy


# ---- with a real primary and standby --------------------------------------------------------------


def _env(database_url: str, **extra: str) -> dict:
    env = {**os.environ, **FAST_QUEUE_ENV, "DATABASE_URL": database_url, "DB_POOL": "true", **extra}
    env.pop("QUEUE_EMBEDDED_PGDATA", None)
    env.pop("DATABASE_REPLICA_URL", None)
    return {**env, **extra}


def _manage(env: dict, *args: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=180).stdout


@pytest.fixture
def pair():
    """A primary with the schema, and a synchronous streaming standby of it."""
    pair = ReplicaPair()
    try:
        pair.primary.create_database("queue")
        _manage(_env(pair.primary.url("queue")), "migrate", "--verbosity", "0")
        pair.add_standby(synchronous=True)
        yield pair
    finally:
        pair.destroy()


@pytest.mark.slow
def test_the_service_and_a_worker_ride_through_a_failover(pair, tmp_path):
    env = _env(pair.url("queue", connect_timeout="2"))
    token = _manage(env, "create_api_token", "failover").strip()
    headers = {"Authorization": f"Token {token}"}
    server = WebServer(env, tmp_path / "web.log")
    worker = WorkerProcess(["--concurrency", "2"], env, tmp_path / "worker.log")
    try:
        def done(task_id: str) -> bool:
            return requests.get(f"{server.url}/api/tasks/{task_id}", headers=headers,
                                timeout=10).json().get("status") == "completed"

        before = requests.post(f"{server.url}/api/tasks", json={"type": "echo"}, headers=headers, timeout=10)
        wait_for(lambda: done(before.json()["id"]), timeout=30, message="a task before the failover")

        pair.primary.kill()
        # No primary: the standby refuses read-write sessions, so every request is a 503, never a 500.
        during = requests.post(f"{server.url}/api/tasks", json={"type": "echo"}, headers=headers, timeout=15)
        assert during.status_code == 503 and during.json()["error"]["code"] == "database_unavailable"
        assert requests.get(f"{server.url}/api/health", timeout=15).status_code == 503

        pair.promote()
        after = wait_for(lambda: _created(server.url, headers), timeout=30, message="the API writing again")
        wait_for(lambda: done(after), timeout=30, message="the worker running a task on the new primary")
        # The worker's LISTEN connection subscribed again, on the new primary.
        # (after its reconnection delay, tasks/db.py RECONNECT_DELAYS; it polls meanwhile).
        wait_for(lambda: pair.standby.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'queue' AND query LIKE 'LISTEN%'", "queue")[0][0],
            timeout=30, interval=0.2, message="the worker listening on the new primary")
        assert worker.proc.poll() is None and server.proc.poll() is None
        assert "Traceback" not in server.output
    finally:
        worker.stop()
        server.stop()


def _created(base: str, headers: dict) -> str | None:
    response = requests.post(f"{base}/api/tasks", json={"type": "echo"}, headers=headers, timeout=10)
    assert response.status_code in (201, 503), response.text
    return response.json()["id"] if response.status_code == 201 else None


@pytest.mark.slow
def test_monitoring_reads_come_from_the_replica_and_own_writes_from_the_primary(pair, tmp_path):
    env = _env(pair.primary.url("queue"), DATABASE_REPLICA_URL=pair.standby.url("queue"))
    token = _manage(env, "create_api_token", "replica").strip()
    headers = {"Authorization": f"Token {token}"}
    server = WebServer(env, tmp_path / "web.log")
    try:
        # Replay paused: the replica stops where it is, as a lagging one would.
        pair.standby.execute("SELECT pg_wal_replay_pause()")
        created = requests.post(f"{server.url}/api/tasks", json={"type": "echo"}, headers=headers, timeout=10)
        assert created.status_code == 201
        task_id = created.json()["id"]
        # One's own write: the task's own page reads from the primary.
        assert requests.get(f"{server.url}/api/tasks/{task_id}", headers=headers, timeout=10).status_code == 200
        # Monitoring reads come from the replica, which has not seen it yet.
        listed = requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10).json()
        assert task_id not in [t["id"] for t in listed["results"]]
        assert requests.get(f"{server.url}/api/stats", headers=headers, timeout=10).json()["total_tasks"] == 0
        # Unless this client has just written: the cookie set on its write keeps it on the primary.
        assert "queue_read_primary" in created.cookies
        sticky = requests.get(f"{server.url}/api/tasks", headers=headers, cookies=created.cookies, timeout=10)
        assert task_id in [t["id"] for t in sticky.json()["results"]]

        health = wait_for(lambda: _lagging_health(server.url), timeout=15, message="the replica's lag in health")
        assert health["primary"] == "writable" and health["replica"]["database"] == "ok"
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        assert re.search(r"^taskqueue_replica_up 1\.0$", metrics, re.M)
        assert float(re.search(r"^taskqueue_replica_lag_seconds (\S+)$", metrics, re.M).group(1)) > 0

        pair.standby.execute("SELECT pg_wal_replay_resume()")
        wait_for(lambda: task_id in [t["id"] for t in requests.get(f"{server.url}/api/tasks", headers=headers,
                                                                   timeout=10).json()["results"]],
                 timeout=15, message="the replica catching up")

        # The dashboard says where its numbers come from.
        browser = _staff_session(env, server.url)
        assert "read from the replica, 0.0 s behind the primary" in browser.get(f"{server.url}/dashboard/",
                                                                                timeout=10).text

        # The replica away: monitoring reads fall back to the primary, and health says so.
        pair.standby.stop("immediate")
        listed = requests.get(f"{server.url}/api/tasks", headers=headers, timeout=10)
        assert listed.status_code == 200 and task_id in [t["id"] for t in listed.json()["results"]]
        health = requests.get(f"{server.url}/api/health", timeout=10).json()
        assert health["replica"]["database"].startswith("unreachable") and health["status"] != "unavailable"
        page = browser.get(f"{server.url}/dashboard/tasks/", timeout=10)
        assert page.status_code == 200 and "read from the primary (the replica is unreachable)" in page.text
    finally:
        server.stop()


def _staff_session(env: dict, base: str) -> requests.Session:
    _manage({**env, "DJANGO_SUPERUSER_PASSWORD": "pw-for-the-test"}, "createsuperuser", "--noinput",
            "--username", "ops", "--email", "ops@example.com")
    browser = requests.Session()
    browser.get(f"{base}/admin/login/", timeout=10)
    browser.post(f"{base}/admin/login/", timeout=10, data={
        "username": "ops", "password": "pw-for-the-test", "next": "/dashboard/",
        "csrfmiddlewaretoken": browser.cookies["csrftoken"]}, headers={"Referer": f"{base}/admin/login/"})
    browser.cookies.pop("queue_read_primary", None)  # the login was a write; this test wants the replica
    return browser


def _lagging_health(base: str) -> dict | None:
    health = requests.get(f"{base}/api/health", timeout=10).json()
    return health if (health.get("replica") or {}).get("lag_seconds") else None


def test_a_multi_host_url_reaches_psycopg_whole():
    """h1,h2 with target_session_attrs survives the translation into Django's settings."""
    from queueproject.database import django_settings

    entry = django_settings("postgresql://u@10.0.0.1:5432,10.0.0.2:5433/q?target_session_attrs=read-write"
                            "&keepalives_idle=10&tcp_user_timeout=10000")
    assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("10.0.0.1,10.0.0.2", "5432,5433", "q")
    assert entry["OPTIONS"] == {"target_session_attrs": "read-write", "keepalives_idle": "10",
                                "tcp_user_timeout": "10000"}
    assert psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(
        host=entry["HOST"], port=entry["PORT"], **entry["OPTIONS"]))["host"] == "10.0.0.1,10.0.0.2"
