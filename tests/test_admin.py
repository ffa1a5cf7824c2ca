"""The Django admin: lists, filters, search, read-only system fields, and actions."""

import pytest
from django.utils import timezone

from tasks.admin.task_admin import TaskCountPaginator
from tasks.models import Queue, Task, TaskStatus, WebhookDelivery, Worker, WorkerState
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tasks/task/", "/admin/tasks/task/?status__exact=failed", "/admin/tasks/task/?type=echo",
        "/admin/tasks/task/?queue=emails", "/admin/tasks/task/?priority_band=high", "/admin/tasks/task/?q=boom",
        "/admin/tasks/task/?q=not-a-uuid", "/admin/tasks/task/?created_at__year=2030",
        "/admin/tasks/worker/", "/admin/tasks/worker/?state__exact=running", "/admin/tasks/queue/",
        "/admin/tasks/webhookdelivery/", "/admin/tasks/webhookdelivery/?status__exact=failed&q=example",
    ],
)
def test_every_admin_list_answers_with_filters_and_search(admin_client, path):
    TaskFactory(status=TaskStatus.FAILED, last_error="boom", queue="emails", priority=5)
    WorkerFactory()
    Queue.pause("emails")
    assert admin_client.get(path).status_code == 200


def test_task_list_shows_status_retries_and_filters_from_the_registry_and_counters(admin_client):
    failed = TaskFactory(status=TaskStatus.FAILED, queue="emails", retry_count=3, max_retries=3)
    pending = TaskFactory(status=TaskStatus.PENDING, priority=-5)
    html = admin_client.get("/admin/tasks/task/").content.decode()
    assert '<b class="queue-status queue-status-failed">failed</b>' in html and "3/3" in html
    assert "?queue=emails" in html and "?type=email" in html
    html = admin_client.get("/admin/tasks/task/?priority_band=low").content.decode()
    assert str(pending.pk)[-8:] in html and str(failed.pk)[-8:] not in html
    html = admin_client.get(f"/admin/tasks/task/?q={failed.pk}").content.decode()
    assert str(failed.pk)[-8:] in html and str(pending.pk)[-8:] not in html


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [("retry_tasks", TaskStatus.FAILED, TaskStatus.PENDING), ("cancel_tasks", TaskStatus.PENDING, TaskStatus.CANCELLED),
     ("run_tasks_now", TaskStatus.SCHEDULED, TaskStatus.PENDING)],
)
def test_task_actions_change_only_the_tasks_whose_status_allows(admin_client, action, before, after):
    eligible = TaskFactory(status=before)
    other = TaskFactory(status=TaskStatus.PROCESSING)
    response = admin_client.post("/admin/tasks/task/", {"action": action, "_selected_action": [eligible.pk, other.pk]},
                                 follow=True)
    assert Task.objects.get(pk=eligible.pk).status == after
    assert Task.objects.get(pk=other.pk).status == TaskStatus.PROCESSING
    html = response.content.decode()
    assert "1 of 2 selected tasks" in html and "1 skipped" in html


def test_system_managed_task_fields_are_read_only_and_operator_fields_editable(admin_client):
    task = TaskFactory(status=TaskStatus.SCHEDULED, run_at=timezone.now())
    page = admin_client.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()
    assert 'name="priority"' in page and 'name="status"' not in page and 'name="result"' not in page
    response = admin_client.post(f"/admin/tasks/task/{task.pk}/change/", {
        "queue": "default", "priority": "7", "run_at_0": "2099-01-01", "run_at_1": "00:00:00",
        "max_retries": "3", "timeout": "", "webhook": "", "status": "completed", "result": "1",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.priority == 7 and task.status == TaskStatus.SCHEDULED and task.result is None


def test_tasks_workers_and_deliveries_are_not_added_by_hand(admin_client):
    for model in ("task", "worker", "webhookdelivery"):
        assert admin_client.get(f"/admin/tasks/{model}/add/").status_code == 403
    assert admin_client.get("/admin/tasks/queue/add/").status_code == 200


def test_worker_and_queue_actions_go_through_their_methods(admin_client):
    worker = WorkerFactory()
    admin_client.post("/admin/tasks/worker/", {"action": "pause_workers", "_selected_action": [worker.pk]})
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.PAUSED
    admin_client.post("/admin/tasks/worker/", {"action": "resume_workers", "_selected_action": [worker.pk]})
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING
    Queue.objects.create(name="emails")
    admin_client.post("/admin/tasks/queue/", {"action": "pause_queues", "_selected_action": ["emails"]})
    assert Queue.is_paused("emails")
    admin_client.post("/admin/tasks/queue/", {"action": "resume_queues", "_selected_action": ["emails"]})
    assert not Queue.is_paused("emails")


def test_task_page_lists_its_webhook_deliveries(admin_client):
    task = TaskFactory(status=TaskStatus.COMPLETED, webhook="https://example.com/hook")
    WebhookDelivery.objects.create(task=task, url=task.webhook, status="failed", last_error="HTTP 500")
    page = admin_client.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()
    assert "HTTP 500" in page


def test_the_admin_is_for_staff_only(client, django_user_model):
    assert client.get("/admin/tasks/task/").status_code == 302
    client.force_login(django_user_model.objects.create_user("member"))
    assert client.get("/admin/tasks/task/").status_code == 302  # to the admin login, which refuses non-staff


def test_paginator_counts_status_and_queue_filters_from_the_counters_and_estimates_others(
        django_assert_num_queries):
    TaskFactory.create_batch(3, status=TaskStatus.PENDING)
    TaskFactory(status=TaskStatus.FAILED, queue="emails")
    Task.objects.filter(status=TaskStatus.PENDING)[:1].get().delete()
    with django_assert_num_queries(1) as captured:
        assert TaskCountPaginator(Task.objects.all(), 50).count == 3
    assert "tasks_statcount" in captured.captured_queries[0]["sql"]  # not a COUNT(*) of the tasks
    failed = TaskCountPaginator(Task.objects.filter(status="failed"), 50, params={"status__exact": "failed"})
    assert failed.count == 1
    emails = TaskCountPaginator(Task.objects.filter(queue="emails"), 50, params={"queue": "emails", "p": "1"})
    assert emails.count == 1
    with django_assert_num_queries(1) as captured:
        TaskCountPaginator(Task.objects.filter(type="echo"), 50, params={"type": "echo"}).count
    assert captured.captured_queries[0]["sql"].startswith("EXPLAIN")  # an estimate, never a scan
