"""The bugs an operator found in the dashboard and the admin (issue 16), one test each,
over real HTTP requests against PostgreSQL. The layout bug (a long error widening
the page) is measured in Chromium: tests/test_dashboard_browser.py."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Queue, Schedule, Task, TaskStatus, WebhookDelivery, Worker, WorkerState
from tests.factories import ScheduleFactory, TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db

YES = {"confirm": "yes"}


def printed_short_id(client, task) -> str:
    """The short id the task list prints on the task's row."""
    html = client.get("/dashboard/tasks/").content.decode()
    row = html[html.index(f'data-task="{task.pk}"'):]
    return re.search(r"<code>([0-9a-f]{8})</code>", row).group(1)


def test_2_the_printed_short_id_and_an_id_prefix_find_the_task_in_the_dashboard(staff_client):
    wanted, other = TaskFactory(), TaskFactory()
    short = printed_short_id(staff_client, wanted)
    for text in (short, str(wanted.pk)[:13], str(wanted.pk).replace("-", "")[:20]):
        html = staff_client.get("/dashboard/tasks/", {"q": text}).content.decode()
        assert f'data-task="{wanted.pk}"' in html, text
        if text == short:
            assert f'data-task="{other.pk}"' not in html


def test_2_the_printed_short_id_and_an_id_prefix_find_the_task_in_the_admin(admin_client):
    wanted, other = TaskFactory(), TaskFactory()
    html = admin_client.get("/admin/tasks/task/").content.decode()
    row = html[html.index(f"/admin/tasks/task/{wanted.pk}/change/"):]
    short = re.search(r">([0-9a-f]{8})</a>", row).group(1)
    for text in (short, str(wanted.pk)[:13]):
        found = admin_client.get("/admin/tasks/task/", {"q": text}).content.decode()
        assert f"/admin/tasks/task/{wanted.pk}/change/" in found, text
        assert f"/admin/tasks/task/{other.pk}/change/" not in found, text


def test_3_a_lost_worker_is_red_and_the_overview_and_health_say_nothing_runs(staff_client, client):
    lost = WorkerFactory(hostname="gone-box", state=WorkerState.RUNNING,
                         last_heartbeat=timezone.now() - timedelta(minutes=5))
    stuck = TaskFactory(status=TaskStatus.PROCESSING, worker_id=lost.pk, started_at=timezone.now())
    TaskFactory(status=TaskStatus.PENDING)

    workers = staff_client.get("/dashboard/workers/").content.decode()
    row = workers[workers.index(f'data-worker="{lost.pk}"'):]
    assert '<span class="badge state-lost"' in row[: row.index("</tr>")]
    assert "state-running" not in row[: row.index("</tr>")]

    overview = staff_client.get("/dashboard/").content.decode()
    assert 'data-alarm="no_worker"' in overview and "No worker is alive" in overview
    assert 'data-alarm="lost_worker"' in overview and f"/dashboard/tasks/{stuck.pk}/" in overview

    health = client.get("/api/health")
    assert health.status_code == 200  # the web tier serves; load balancers keep it
    body = health.json()
    assert body["status"] == "degraded" and "No worker is alive" in body["problems"][0]


def test_4_the_admins_run_at_takes_effect_and_is_offered_only_where_it_means_something(admin_client):
    pending = TaskFactory(status=TaskStatus.PENDING)
    later = timezone.now() + timedelta(hours=2)
    response = admin_client.post(f"/admin/tasks/task/{pending.pk}/change/", {
        "queue": "default", "priority": "0", "run_at_0": later.strftime("%Y-%m-%d"),
        "run_at_1": later.strftime("%H:%M:%S"), "max_retries": "3", "timeout": "", "webhook": "",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    pending.refresh_from_db()
    # Postponed: scheduled, so that no worker claims it before its time.
    assert pending.status == TaskStatus.SCHEDULED and abs((pending.run_at - later).total_seconds()) < 1
    running = TaskFactory(status=TaskStatus.PROCESSING)
    assert 'name="run_at_0"' not in admin_client.get(f"/admin/tasks/task/{running.pk}/change/").content.decode()


def test_5_the_admin_keeps_running_tasks_live_workers_and_their_rows_safe(admin_client):
    running = TaskFactory(status=TaskStatus.PROCESSING)
    assert admin_client.post(f"/admin/tasks/task/{running.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Task.objects.filter(pk=running.pk).exists()
    live = WorkerFactory()
    assert 'name="busy"' not in admin_client.get(f"/admin/tasks/worker/{live.pk}/change/").content.decode()
    assert admin_client.post(f"/admin/tasks/worker/{live.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Worker.objects.filter(pk=live.pk).exists()
    refused = admin_client.post("/admin/tasks/queue/add/", {"name": "has spaces", "max_pending": ""})
    assert refused.status_code == 200 and "A queue name is 1 to 100 letters" in refused.content.decode()
    assert not Queue.objects.filter(name="has spaces").exists()


def test_6_the_create_form_reports_every_error_at_once_and_takes_a_time_zone(staff_client):
    response = staff_client.post("/dashboard/tasks/new/", {
        "tab": "advanced", "type": "echo", "priority": "500", "queue": "has spaces", "webhook": "ftp://x.example/",
        "max_retries": "lots",
    })
    errors = response.context["form"].errors
    assert {"priority", "queue", "webhook", "max_retries"} <= set(errors)
    page = staff_client.get("/dashboard/tasks/new/?tab=advanced").content.decode()
    field = re.search(r'<input[^>]*name="scheduled_for"[^>]*>', page).group(0)
    assert 'type="datetime-local"' not in field  # a date picker cannot take the zone the help text offers
    assert "unless a zone is given" in page
    created = staff_client.post("/dashboard/tasks/new/", {"tab": "advanced", "type": "echo", "queue": "default",
                                                          "priority": "0", "scheduled_for": "2099-01-01 09:00+02:00"})
    assert created.status_code == 302
    assert Task.objects.get().run_at == timezone.datetime(2099, 1, 1, 7, 0, tzinfo=timezone.UTC)


def test_7_dead_letters_count_order_and_act_on_the_filter(staff_client):
    now = timezone.now()
    first_made = TaskFactory(status=TaskStatus.FAILED, queue="emails", completed_at=now)  # made first, failed last
    TaskFactory(status=TaskStatus.FAILED, queue="emails", completed_at=now - timedelta(hours=1))
    TaskFactory.create_batch(3, status=TaskStatus.FAILED, queue="reports", completed_at=now)

    html = staff_client.get("/dashboard/dead-letters/?queue=emails").content.decode()
    assert re.search(r"data-count>2 dead letters", html)  # the filter's count, not every dead letter
    rows = re.findall(r'<tr data-task="([^"]+)"', html)
    assert rows[0] == str(first_made.pk)  # newest failure first
    assert '<select name="queue"' in html and '<select name="type"' in html  # menus, as on the task list

    form = {"action": "retry", "scope": "matching", "list": "dead_letters", "queue": "emails",
            "next": "/dashboard/dead-letters/?queue=emails"}
    asked = staff_client.post("/dashboard/tasks/bulk/", form).content.decode()
    assert "Retry 2 tasks?" in asked  # an exact count in the confirmation
    done = staff_client.post("/dashboard/tasks/bulk/", {**form, **YES})
    assert done.url == "/dashboard/dead-letters/?queue=emails"  # the filter is kept
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 3


def test_8_schedules_are_live_readable_responsive_and_run_now_leaves_the_last_tick(admin_client):
    tick = timezone.now().replace(microsecond=123456) - timedelta(hours=1)
    schedule = ScheduleFactory(cron="@hourly", next_run_at=tick + timedelta(hours=2), last_run_at=tick)
    html = admin_client.get("/dashboard/schedules/").content.decode()
    assert "data-live" in html and 'class="responsive schedules"' in html
    assert ".123456" not in html and tick.isoformat() not in html  # no raw ISO times with microseconds
    admin_client.post(f"/dashboard/schedules/{schedule.pk}/run", YES)
    schedule.refresh_from_db()
    assert schedule.last_run_at == tick and schedule.last_task_id is not None


def test_9_the_admin_shows_errors_and_delivery_logs_as_text_and_redelivers(admin_client):
    task = TaskFactory(status=TaskStatus.FAILED, webhook="https://example.com/hook", errors=[
        {"attempt": 1, "type": "RuntimeError", "message": "boom", "traceback": 'Traceback\n  File "x.py"\nboom'}])
    delivery = WebhookDelivery.objects.create(task=task, url=task.webhook, status="failed", attempts=5,
                                              log=[{"attempt": 1, "at": "2030-01-01T00:00:00", "status_code": 500,
                                                    "error": "The receiver answered HTTP 500.", "ms": 12.5}])
    page = admin_client.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()
    assert "&quot;traceback&quot;" not in page and "\\n" not in page
    assert 'File &quot;x.py&quot;' in page and "RuntimeError: boom" in page
    log = admin_client.get(f"/admin/tasks/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "<td>The receiver answered HTTP 500.</td>" in log and "&quot;status_code&quot;" not in log
    admin_client.post("/admin/tasks/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_10_a_missing_task_gets_a_page_the_favicon_exists_and_every_action_asks(staff_client, admin_client, client):
    missing = staff_client.get("/dashboard/tasks/01a2130a-c54b-7ad1-8f3e-06c91de58514/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert "dashboard.css" in html and "No task has the id" in html and "pruned" in html
    assert client.get("/favicon.ico").status_code == 200
    worker, schedule = WorkerFactory(), ScheduleFactory()
    Queue.objects.create(name="emails")
    for url in (f"/dashboard/workers/{worker.pk}/pause/", "/dashboard/queues/emails/pause/",
                f"/dashboard/schedules/{schedule.pk}/disable", f"/dashboard/schedules/{schedule.pk}/run"):
        asked = admin_client.post(url)
        assert asked.status_code == 200 and "Please confirm" in asked.content.decode(), url
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING and not Queue.is_paused("emails")
    assert Schedule.objects.get(pk=schedule.pk).enabled and not Task.objects.exists()
