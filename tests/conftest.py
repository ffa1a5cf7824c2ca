"""Fixtures: real PostgreSQL (the test database Django creates), real worker
processes, real HTTP. Nothing here mocks the database. Helpers that scripts
also use are in tests/support/."""

import os
from pathlib import Path

import psycopg
import pytest

from tests.support.database import database_url_for_tests
from tests.support.processes import FAST_QUEUE_ENV, WorkerProcess
from tests.support.web import WebServer

# Fixtures of the API tests (api, staff_api, user), of the dashboard tests
# (staff, staff_client, member_client).
pytest_plugins = ["tests.api_helpers", "tests.dashboard_helpers"]


@pytest.fixture(autouse=True)
def _test_handlers(settings):
    import tests.handlers  # noqa: F401 - registers the test-only types in this process


@pytest.fixture(autouse=True)
def _roomy_auth_failure_limit(settings):
    """Tests refuse many requests from 127.0.0.1 on purpose; the limit's own tests
    (tests/test_api_keys.py) set theirs."""
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "10000/minute"}


@pytest.fixture(autouse=True)
def _fresh_api_memory():
    """Rate-limit counts, remembered tokens and queue limits live in the process;
    each test starts without them, as its rows in the database start afresh."""
    from tasks.api import authentication, throttling
    from tasks.queue import backpressure

    throttling.forget()
    authentication.forget()
    backpressure.forget()


@pytest.fixture
def queue_env(tmp_path):
    env = {**os.environ, **FAST_QUEUE_ENV, "DATABASE_URL": database_url_for_tests(),
           "TASKQUEUE_TEST_LOG": str(tmp_path / "record.log")}
    env.pop("QUEUE_EMBEDDED_PGDATA", None)
    return env


@pytest.fixture
def start_worker(transactional_db, queue_env, tmp_path):
    """Start worker processes: start_worker("--concurrency", "2", env={...})."""
    started = []

    def start(*args, env=None):
        worker = WorkerProcess(args, {**queue_env, **(env or {})}, tmp_path / f"worker{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def record_log(queue_env):
    """Lines "<id> <attempt> <pid>" written by `record` tasks, as a list of tuples."""
    path = Path(queue_env["TASKQUEUE_TEST_LOG"])

    def read():
        if not path.exists():
            return []
        return [tuple(line.split()) for line in path.read_text().splitlines()]

    return read


@pytest.fixture
def raw_conn(transactional_db):
    """An autocommit psycopg connection to the test database, for out-of-Django checks."""
    with psycopg.connect(database_url_for_tests(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def web_server(transactional_db, queue_env, tmp_path):
    """Start the web server as `make run` does: web_server(env={...}) -> WebServer."""
    started = []

    def start(env=None, processes=1):
        server = WebServer({**queue_env, **(env or {})}, tmp_path / f"web{len(started)}.log", processes)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
