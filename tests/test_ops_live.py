"""Metrics and live events against real processes: `manage.py worker`
subprocesses, a uvicorn ASGI server, real HTTP."""

import json
import signal
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from tasks import queue
from tasks.models import Task, TaskStatus, Worker, WorkerState
from tests.support.processes import wait_for
from tests.support.web import EventReader

pytestmark = pytest.mark.slow


@pytest.fixture
def auth(django_user_model):
    user = django_user_model.objects.create_user("ops")
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def scrape(server, headers=None) -> dict:
    """{(name, frozenset(labels)): value} of every sample at /metrics."""
    response = requests.get(f"{server.url}/metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def test_metrics_after_real_tasks_ran(start_worker, web_server):
    server = web_server()
    for i in range(6):
        queue.enqueue("echo", i, queue="mail")
    queue.enqueue("fail", "broken", max_retries=1)
    queue.cancel(queue.enqueue("echo", "later", run_at=timezone.now() + timedelta(hours=1)))
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.filter(status__in=["completed", "failed"]).count() == 7, timeout=30)
    busy = queue.enqueue("record", {"sleep": 4})
    wait_for(lambda: Worker.objects.filter(busy=1).exists(), timeout=10, message="a busy heartbeat")

    samples = scrape(server)
    assert value(samples, "taskqueue_tasks_enqueued_total", queue="mail", type="echo") == 6
    assert value(samples, "taskqueue_tasks_started_total", queue="mail", type="echo") == 6
    assert value(samples, "taskqueue_tasks_completed_total", queue="mail", type="echo") == 6
    assert value(samples, "taskqueue_tasks_started_total", queue="default", type="fail") == 2
    assert value(samples, "taskqueue_tasks_retried_total", queue="default", type="fail") == 1
    assert value(samples, "taskqueue_tasks_failed_total", queue="default", type="fail") == 1
    assert value(samples, "taskqueue_tasks_cancelled_total", queue="default", type="echo") == 1
    assert value(samples, "taskqueue_task_duration_seconds_count", queue="mail", type="echo") == 6
    assert value(samples, "taskqueue_task_duration_seconds_bucket", queue="mail", type="echo", le="+Inf") == 6
    assert value(samples, "taskqueue_task_queue_wait_seconds_count", queue="mail", type="echo") == 6
    assert 0 < value(samples, "taskqueue_task_duration_seconds_sum", queue="mail", type="echo") < 6
    assert value(samples, "taskqueue_tasks", queue="mail", status="completed") == 6
    assert value(samples, "taskqueue_tasks", queue="default", status="failed") == 1
    assert value(samples, "taskqueue_workers", state="running") == 1
    assert value(samples, "taskqueue_worker_slots") == 2
    assert value(samples, "taskqueue_worker_busy_slots") == 1

    # Counters survive the deletion of the rows they counted, and a second web
    # process answers the same: nothing lives in a process's memory.
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    Task.objects.filter(queue="mail").delete()
    again = scrape(web_server())
    assert value(again, "taskqueue_tasks_completed_total", queue="mail", type="echo") == 6
    assert value(again, "taskqueue_tasks", queue="mail", status="completed") == 0
    assert value(again, "taskqueue_workers", state="running") == 0
    assert Task.objects.get(pk=busy.pk).status == TaskStatus.COMPLETED


def test_queue_depth_and_oldest_pending_age(web_server):
    server = web_server()
    old = timezone.now() - timedelta(seconds=90)
    queue.enqueue("echo", 1, queue="reports", run_at=old, now=old)
    queue.enqueue("echo", 2, queue="reports")
    samples = scrape(server)
    assert value(samples, "taskqueue_queue_depth", queue="reports") == 2
    assert 90 <= value(samples, "taskqueue_queue_oldest_pending_age_seconds", queue="reports") < 120


def test_metrics_token(web_server):
    server = web_server(env={"QUEUE_METRICS_TOKEN": "s3cret"})
    refused = requests.get(f"{server.url}/metrics", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    assert "taskqueue_workers" in str(scrape(server, {"Authorization": "Bearer s3cret"}))


def test_live_events_from_a_real_worker_then_replay_with_last_event_id(start_worker, web_server, auth):
    server = web_server()
    everything = EventReader(f"{server.url}/api/events", auth)
    mail_only = EventReader(f"{server.url}/api/events?queue=mail&event=task.*", auth)
    endings = EventReader(f"{server.url}/api/events?event=task.completed,task.failed", auth)

    worker = start_worker("--concurrency", "2")
    wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).exists())
    mail = queue.enqueue("echo", "hi", queue="mail")
    flaky = queue.enqueue("flaky", 2, max_retries=2)
    doomed = queue.enqueue("fail", "no", max_retries=0)
    cancelled = queue.enqueue("echo", 1, run_at=timezone.now() + timedelta(hours=1))
    queue.cancel(cancelled)
    everything.wait_for(lambda ev: ["task.failed"] == [e["event"] for e in ev if e["data"].get("task_id") == str(doomed.id)][-1:]
                        and "task.completed" in everything.names(flaky.id) and "task.completed" in everything.names(mail.id))
    row = Worker.objects.get()
    row.pause()
    everything.wait_for(lambda ev: "worker.paused" in everything.names(), message="worker.paused")

    assert everything.names(mail.id) == ["task.created", "task.started", "task.completed"]
    assert everything.names(flaky.id) == ["task.created", "task.started", "task.retried", "task.started",
                                          "task.completed"]
    assert everything.names(doomed.id) == ["task.created", "task.started", "task.failed"]
    assert everything.names(cancelled.id) == ["task.created", "task.cancelled"]
    assert everything.names()[0] == "worker.started"
    completed = next(e for e in everything.events if e["event"] == "task.completed" and e["data"]["task_id"] == str(mail.id))
    assert completed["data"]["queue"] == "mail" and completed["data"]["type"] == "echo"
    assert completed["data"]["attempt"] == 1 and completed["data"]["worker_id"] == str(row.id)
    assert completed["data"]["duration_seconds"] >= 0

    mail_only.wait_for(lambda ev: len(ev) >= 3)
    assert mail_only.names() == ["task.created", "task.started", "task.completed"]
    endings.wait_for(lambda ev: len(ev) >= 3)
    assert sorted(endings.names()) == ["task.completed", "task.completed", "task.failed"]

    # Reconnect after the third event: exactly what followed comes back, in order.
    ids = [e["id"] for e in everything.events]
    replay = EventReader(f"{server.url}/api/events", {**auth, "Last-Event-ID": ids[2]})
    replay.wait_for(lambda ev: len(ev) >= len(ids) - 3, message="the replay")
    assert [e["id"] for e in replay.events][: len(ids) - 3] == ids[3:]
    for reader in (everything, mail_only, endings, replay):
        reader.close()
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0


def test_events_need_a_token_and_valid_filters(web_server, auth):
    server = web_server()
    assert requests.get(f"{server.url}/api/events", timeout=10).status_code == 401
    bad = requests.get(f"{server.url}/api/events?event=task.exploded", headers=auth, timeout=10)
    assert bad.status_code == 400 and "event" in bad.json()["error"]["fields"]
    bad = requests.get(f"{server.url}/api/events", headers={**auth, "Last-Event-ID": "yesterday"}, timeout=10)
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]["fields"]


def test_json_logs_carry_the_task_fields_on_every_line_about_a_task(start_worker):
    ok = queue.enqueue("echo", 1, queue="mail")
    bad = queue.enqueue("fail", "boom", max_retries=0)
    worker = start_worker("--concurrency", "1", "--burst", env={"LOG_FORMAT": "json"})
    assert worker.wait(timeout=60) == 0
    lines = [json.loads(line) for line in worker.output.splitlines() if line.startswith("{")]
    about_tasks = [line for line in lines if str(ok.id) in line["message"] or str(bad.id) in line["message"]]
    assert len(about_tasks) == 5  # processing, completed; processing, failed, dead letter
    for line in about_tasks:
        assert {"task_id", "task_type", "queue", "attempt", "worker_id", "level", "logger", "time"} <= set(line)
        task = ok if line["task_id"] == str(ok.id) else bad
        assert (line["task_type"], line["queue"]) == (task.type, task.queue)
    assert {line["attempt"] for line in about_tasks} == {1}
    assert {line["error_type"] for line in about_tasks if line["level"] != "INFO"} == {"builtins.RuntimeError"}
    assert any(line["message"].startswith("Worker 1 completed task") and "duration" in line for line in about_tasks)
