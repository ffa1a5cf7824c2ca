"""Fixtures: real PostgreSQL (the test database Django creates), real worker
processes, real HTTP. Nothing here mocks the database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent

# Fixtures of the API tests: api, staff_api, user.
pytest_plugins = ["tests.api_helpers"]

# Short intervals so that tests of rescue, retries and promotion finish in seconds.
FAST_QUEUE_ENV = {
    "QUEUE_HANDLER_MODULES": "tests.handlers,tests.pytasks",
    "QUEUE_HEARTBEAT_INTERVAL": "0.5",
    "QUEUE_WORKER_TIMEOUT": "3",
    "QUEUE_RESCUE_INTERVAL": "0.5",
    "QUEUE_PROMOTE_INTERVAL": "0.2",
    "QUEUE_POLL_INTERVAL": "0.5",
    "QUEUE_RETRY_BASE": "0.2",
    "QUEUE_RETRY_CAP": "1",
    "QUEUE_SHUTDOWN_GRACE": "10",
    "QUEUE_TIMEOUT_GRACE": "1",
    "LOG_LEVEL": "INFO",
}


@pytest.fixture(autouse=True)
def _test_handlers(settings):
    import tests.handlers  # noqa: F401 - registers the test-only types in this process


def database_url_for_tests() -> str:
    """A libpq URL for the test database Django created for this run."""
    s = connection.settings_dict
    return make_conninfo(
        dbname=s["NAME"], host=s["HOST"] or None, port=s["PORT"] or None,
        user=s["USER"] or None, password=s["PASSWORD"] or None,
    )


class WorkerProcess:
    """`manage.py worker` in a subprocess against the test database."""

    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "worker", *args],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def wait(self, timeout=60) -> int:
        return self.proc.wait(timeout=timeout)

    def signal(self, signum) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)
        self.log.close()


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it is not gone within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


@pytest.fixture
def raw_conn(transactional_db):
    """An autocommit psycopg connection to the test database, for out-of-Django checks."""
    with psycopg.connect(database_url_for_tests(), autocommit=True) as conn:
        yield conn
