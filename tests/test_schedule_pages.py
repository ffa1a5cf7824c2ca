"""Schedules in the dashboard and the Django admin, over real HTTP requests."""

import pytest
from django.utils import timezone

from tasks.models import Schedule, Task
from tests.factories import ScheduleFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_lists_schedules_with_next_and_last_runs(admin_client):
    schedule = ScheduleFactory(name="nightly-report", cron="0 3 * * *", timezone="Europe/Paris",
                               next_run_at=timezone.now())
    page = admin_client.get("/dashboard/schedules/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "nightly-report" in html and "0 3 * * *" in html and "Europe/Paris" in html
    assert schedule.next_run_at.isoformat(timespec="seconds")[:16] in html
    assert 'href="/dashboard/schedules/"' in html  # the nav link


def test_the_dashboard_switches_and_runs_a_schedule(admin_client):
    schedule = ScheduleFactory(cron="@hourly", next_run_at=timezone.now())
    asked = admin_client.post(f"/dashboard/schedules/{schedule.pk}/disable")
    assert asked.status_code == 200 and "Disable schedule" in asked.content.decode()  # asks, like every action
    schedule.refresh_from_db()
    assert schedule.enabled
    response = admin_client.post(f"/dashboard/schedules/{schedule.pk}/disable", {"confirm": "yes"})
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_run_at is None
    admin_client.post(f"/dashboard/schedules/{schedule.pk}/enable", {"confirm": "yes"})
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_run_at > timezone.now()
    page = admin_client.post(f"/dashboard/schedules/{schedule.pk}/run", {"confirm": "yes"}, follow=True)
    task = Task.objects.get()
    assert str(task.id) in page.content.decode()
    schedule.refresh_from_db()
    assert schedule.last_task_id == task.id
    assert admin_client.get(f"/dashboard/schedules/{schedule.pk}/run").status_code == 405


def test_the_dashboard_is_for_staff_only(client):
    assert client.get("/dashboard/schedules/").status_code == 302
    schedule = ScheduleFactory()
    client.post(f"/dashboard/schedules/{schedule.pk}/disable")
    schedule.refresh_from_db()
    assert schedule.enabled


def test_the_admin_creates_a_schedule_and_plans_its_next_tick(admin_client):
    form = {"name": "cleanup", "cron": "*/10 * * * *", "timezone": "UTC", "task_type": "echo",
            "payload": '"x"', "queue": "default", "priority": "0", "enabled": "on", "missed": "skip"}
    response = admin_client.post("/admin/tasks/schedule/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get(name="cleanup")
    assert schedule.next_run_at is not None and schedule.next_run_at.minute % 10 == 0
    bad = admin_client.post("/admin/tasks/schedule/add/", {**form, "name": "bad", "cron": "sometimes"})
    assert bad.status_code == 200 and "five-field cron expression" in bad.content.decode()
    assert not Schedule.objects.filter(name="bad").exists()
    assert admin_client.get("/admin/tasks/schedule/").status_code == 200
