"""Contract tests: the curl examples of reference documents 000 and 001, run
with curl against the real service (uvicorn + a worker, on the test database),
adapted only by the auth header (and the host). Every documented field is checked."""

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from tasks.access import Scope
from tests.api_helpers import client_for
from tests.support.database import api_server
from tests.support.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# 001 "Create Task (Basic)" response, and the Task struct of 000.
REFERENCE_TASK_FIELDS = {"id", "type", "payload", "status", "priority", "max_retries", "retry_count",
                         "created_at", "updated_at"}
STRUCT_FIELDS = REFERENCE_TASK_FIELDS | {"scheduled_for", "webhook", "completed_at", "error"}
STATS_FIELDS = {"total_tasks", "pending_count", "processing_count", "completed_count", "failed_count",
                "scheduled_count", "worker_count"}
AUTH = '-H "Authorization: Token $TOKEN"'


class Curl:
    def __init__(self, base: str, token: str):
        self.env = {**os.environ, "BASE": base, "TOKEN": token}

    def __call__(self, command: str) -> tuple[int, dict | list]:
        """Run a curl command line in bash; returns (HTTP status, JSON body)."""
        command = command.replace("http://localhost:8080", "$BASE").replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
        out = subprocess.run(["bash", "-c", command], env=self.env, capture_output=True, text=True, check=True,
                             timeout=30).stdout
        body, _, code = out.rpartition("\n")
        return int(code), json.loads(body)


@pytest.fixture
def service(user, tmp_path, start_worker, staff_token):
    # A worker silent for 3 s (the fast test setting) could be taken for dead on a busy machine.
    patient = {"QUEUE_WORKER_TIMEOUT": "20"}
    server = api_server(tmp_path / "server.log", env=patient)
    try:
        start_worker("--concurrency", "1", env=patient)
        server.wait_ready()
        # The reference's client creates, reads and retries tasks: read, enqueue and operate.
        operator = client_for(user, [Scope.READ, Scope.ENQUEUE, Scope.OPERATE])
        yield Curl(server.url, operator._credentials["HTTP_AUTHORIZATION"].split()[1])
    finally:
        server.stop()


@pytest.fixture
def staff_token(django_user_model):
    return client_for(django_user_model.objects.create_user("ops", is_staff=True))._credentials[
        "HTTP_AUTHORIZATION"].split()[1]


def wait_status(curl, task_id, status):
    return wait_for(lambda: (t := curl(f"curl http://localhost:8080/api/tasks/{task_id} {AUTH}")[1])["status"]
                    == status and t, timeout=30, message=f"task {task_id} {status}")


def test_reference_001_api_endpoints(service):
    curl = service
    code, basic = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{"type": "email", "payload": "user@example.com"}}' ''')
    assert code == 201 and REFERENCE_TASK_FIELDS <= set(basic)
    assert (basic["type"], basic["payload"], basic["status"], basic["retry_count"]) == (
        "email", "user@example.com", "pending", 0)
    assert isinstance(basic["priority"], int) and isinstance(basic["max_retries"], int)
    datetime.fromisoformat(basic["created_at"]), datetime.fromisoformat(basic["updated_at"])

    code, advanced = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{"type": "email", "payload": "user@example.com", "priority": 5, "max_retries": 3,
            "scheduled_for": "2025-12-06T18:30:00Z", "webhook": "https://example.com/webhook"}}' ''')
    assert code == 201 and STRUCT_FIELDS <= set(advanced)
    assert (advanced["priority"], advanced["max_retries"], advanced["webhook"]) == (5, 3, "https://example.com/webhook")
    assert advanced["scheduled_for"] == "2025-12-06T18:30:00Z"  # a past time: runnable at once

    code, fetched = curl(f"curl http://localhost:8080/api/tasks/{basic['id']} {AUTH}")
    assert code == 200 and fetched["id"] == basic["id"] and STRUCT_FIELDS <= set(fetched)
    done = wait_status(curl, basic["id"], "completed")
    assert done["completed_at"] and done["error"] == ""
    code, details = curl(f"curl http://localhost:8080/api/tasks/{basic['id']}/details {AUTH}")
    assert code == 200 and details["id"] == basic["id"] and isinstance(details["errors"], list)
    assert details["worker_id"] in details["workers"] and set(details["timings"]) == {
        "waited_seconds", "ran_seconds", "total_seconds"}

    code, failing = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} -H "Content-Type: application/json" \\
      -d '{{"type": "fail", "payload": "boom", "max_retries": 0}}' ''')
    failed = wait_status(curl, failing["id"], "failed")
    assert failed["error"] == "RuntimeError: boom"
    code, retried = curl(f"curl -X POST http://localhost:8080/api/tasks/{failing['id']}/retry {AUTH}")
    assert (code, retried) == (200, {"status": "retrying", "task_id": failing["id"]})
    wait_for(lambda: curl(f"curl http://localhost:8080/api/tasks/{failing['id']}/details {AUTH}")[1]["errors"][1:],
             timeout=30, message="the retried task to fail again")

    code, listed = curl(f"curl http://localhost:8080/api/tasks {AUTH}")
    assert code == 200 and {basic["id"], advanced["id"], failing["id"]} <= {t["id"] for t in listed["results"]}
    code, stats = curl(f"curl http://localhost:8080/api/stats {AUTH}")
    assert code == 200 and STATS_FIELDS <= set(stats) and all(isinstance(stats[f], int) for f in STATS_FIELDS)
    assert stats["total_tasks"] == 3 and stats["worker_count"] == 1
    code, health = curl("curl http://localhost:8080/api/health")
    assert code == 200 and health["status"] == "ok"

    # 001's "Testing API" section uses the same endpoints at the root.
    code, rooted = curl(f'''curl -X POST http://localhost:8080/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{"type":"email","payload":"test@example.com"}}' ''')
    assert code == 201 and REFERENCE_TASK_FIELDS <= set(rooted)
    assert curl(f"curl http://localhost:8080/tasks/{rooted['id']} {AUTH}")[1]["id"] == rooted["id"]
    assert rooted["id"] in {t["id"] for t in curl(f"curl http://localhost:8080/tasks {AUTH}")[1]["results"]}
    assert STATS_FIELDS <= set(curl(f"curl http://localhost:8080/stats {AUTH}")[1])
    assert curl("curl http://localhost:8080/health")[1]["status"] == "ok"


def test_reference_000_usage_examples(service, staff_token):
    curl = service
    # "Create high-priority email task"
    code, urgent = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{
        "type": "email",
        "payload": "urgent@example.com",
        "priority": 5
      }}' ''')
    assert code == 201 and urgent["priority"] == 5

    # "Schedule task for 1 hour from now"
    code, later = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{
        "type": "email",
        "payload": "scheduled@example.com",
        "scheduled_for": "'$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)'"
      }}' ''')
    assert code == 201 and later["status"] == "scheduled"
    when = datetime.fromisoformat(later["scheduled_for"])
    assert timedelta(minutes=58) < when - datetime.now(UTC) <= timedelta(hours=1)

    # "Create task with automatic retries + webhook"
    code, robust = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} \\
      -H "Content-Type: application/json" \\
      -d '{{
        "type": "email",
        "payload": "robust@example.com",
        "priority": 3,
        "max_retries": 3,
        "webhook": "https://myapp.com/task-complete"
      }}' ''')
    assert code == 201
    assert (robust["priority"], robust["max_retries"], robust["retry_count"], robust["webhook"]) == (
        3, 3, 0, "https://myapp.com/task-complete")

    # "Manually retry a failed task"
    code, failing = curl(f'''curl -X POST http://localhost:8080/api/tasks {AUTH} -H "Content-Type: application/json" \\
      -d '{{"type": "fail", "max_retries": 0}}' ''')
    wait_status(curl, failing["id"], "failed")
    assert curl(f"curl -X POST http://localhost:8080/api/tasks/{failing['id']}/retry {AUTH}") == (
        200, {"status": "retrying", "task_id": failing["id"]})

    # "Testing the Features" 1: priority. Hold the queue, create low, high, medium; the high one runs first.
    staff = AUTH.replace("$TOKEN", staff_token)
    curl(f"curl -X PUT http://localhost:8080/api/queues/ordered {staff}")  # declared: it has no task yet
    curl(f"curl -X POST http://localhost:8080/api/queues/ordered/pause {staff}")
    made = {}
    for body in ('{"type":"email","payload":"low@example.com","priority":1,"queue":"ordered"}',
                 '{"type":"email","payload":"high@example.com","priority":5,"queue":"ordered"}',
                 '{"type":"email","payload":"medium@example.com","priority":3,"queue":"ordered"}'):
        code, task = curl(f"curl -X POST http://localhost:8080/api/tasks {AUTH} -H 'Content-Type: application/json' "
                          f"-d '{body}'")
        made[task["priority"]] = task["id"]
    curl(f"curl -X POST http://localhost:8080/api/queues/ordered/resume {staff}")
    started = {p: wait_status(curl, i, "completed")["started_at"] for p, i in made.items()}
    assert started[5] < started[3] < started[1]

    # 2: scheduling (seconds rather than a minute): scheduled, then pending and run automatically.
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, future = curl(f"curl -X POST http://localhost:8080/api/tasks {AUTH} -H 'Content-Type: application/json' "
                        f"""-d '{{"type":"email","payload":"future@example.com","scheduled_for":"{soon}"}}'""")
    assert future["status"] == "scheduled"
    assert curl(f"curl http://localhost:8080/api/stats {AUTH}")[1]["scheduled_count"] >= 1
    wait_status(curl, future["id"], "completed")

    # 3: retries: "Retries: 0/2" before any failure.
    code, retrying = curl(f"curl -X POST http://localhost:8080/api/tasks {AUTH} -H 'Content-Type: application/json' "
                          """-d '{"type":"email","payload":"retry@example.com","max_retries":2}'""")
    assert (retrying["retry_count"], retrying["max_retries"]) == (0, 2)
