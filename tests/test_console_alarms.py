"""The overview's alarms and /api/health's view of the worker fleet, against real rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Queue, StatMinute, TaskStatus, WorkerState
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def alarms(client) -> dict[str, str]:
    """{alarm code: its text} as the overview shows them."""
    import re

    html = client.get("/dashboard/").content.decode()
    return {code: text.strip() for code, text in re.findall(r'data-alarm="([a-z_]+)">([^<]*)', html)}


def test_a_quiet_healthy_queue_has_no_alarm(staff_client, client):
    WorkerFactory()
    TaskFactory(status=TaskStatus.PENDING)
    assert set(alarms(staff_client)) == {"none"}
    assert client.get("/api/health").json() | {"last_heartbeat_age_seconds": 0} == {
        "status": "ok", "database": "ok", "primary": "writable", "workers": 1, "workers_paused": 0, "problems": [],
        "last_heartbeat_age_seconds": 0}


def test_no_live_worker_while_work_waits_is_critical_everywhere(staff_client, client):
    TaskFactory.create_batch(2, status=TaskStatus.PENDING)
    assert "No worker is alive while 2 tasks pending and 0 processing" in alarms(staff_client)["no_worker"]
    assert client.get("/api/health").json()["status"] == "degraded"


def test_an_idle_queue_without_workers_is_healthy(client):
    TaskFactory(status=TaskStatus.COMPLETED)
    assert client.get("/api/health").json()["status"] == "ok"  # nothing waits: nothing is wrong


def test_every_live_worker_paused_while_work_waits(staff_client, client):
    WorkerFactory(state=WorkerState.PAUSED)
    TaskFactory(status=TaskStatus.PENDING)
    assert "Every live worker is paused while 1 task pending" in alarms(staff_client)["workers_paused"]
    body = client.get("/api/health").json()
    assert body["status"] == "degraded" and body["workers_paused"] == 1


def test_a_lost_worker_still_holding_tasks_is_listed_and_says_who_rescues_them(staff_client):
    WorkerFactory()  # a live one: it will rescue them
    lost = WorkerFactory(hostname="lost-box", last_heartbeat=timezone.now() - timedelta(minutes=2))
    held = TaskFactory.create_batch(2, status=TaskStatus.PROCESSING, worker_id=lost.pk, started_at=timezone.now())
    text = alarms(staff_client)["lost_worker"]
    assert f"Worker {lost.name} stopped heartbeating" in text and "still holds 2 tasks in processing" in text
    assert "live workers rescue them within" in text
    html = staff_client.get("/dashboard/").content.decode()
    assert all(f"/dashboard/tasks/{t.pk}/" in html for t in held)


def test_queues_with_old_pending_tasks_no_worker_or_a_pause(staff_client, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "ALARM_PENDING_AGE": 60.0}
    WorkerFactory(queues=["default", "reports"])
    TaskFactory(status=TaskStatus.PENDING, queue="default", run_at=timezone.now() - timedelta(minutes=10),
                created_at=timezone.now() - timedelta(minutes=10))
    TaskFactory(status=TaskStatus.PENDING, queue="emails")  # no worker serves it
    TaskFactory(status=TaskStatus.PENDING, queue="reports")
    Queue.pause("reports")
    found = alarms(staff_client)
    assert "Queue default: the oldest pending task has waited 10 min" in found["old_pending"]
    assert "Queue emails has 1 task pending but no running worker serves it." == found["unserved_queue"]
    assert "Queue reports is paused with 1 task pending." == found["paused_queue"]


def test_dead_letters_arriving_faster_than_before(staff_client):
    WorkerFactory()
    minute = timezone.now().replace(second=0, microsecond=0)
    for ago in range(2, 8):  # six recent full minutes with a failure each; none in the hour before
        StatMinute.objects.create(bucket=minute - timedelta(minutes=ago), queue="default", status="failed", count=1)
    assert alarms(staff_client)["dead_letters_rising"].startswith("Dead letters are rising: 6 in the last 10 minutes")
