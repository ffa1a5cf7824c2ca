"""Operator actions from the dashboard: POST only, CSRF, confirmed, through tasks.queue."""

import uuid

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from tasks.models import Queue, Task, TaskStatus, WebhookDelivery, Worker, WorkerState
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db

YES = {"confirm": "yes"}


def status_of(task) -> str:
    return Task.objects.get(pk=task.pk).status


def message(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("retry", TaskStatus.FAILED, TaskStatus.PENDING),
        ("retry", TaskStatus.CANCELLED, TaskStatus.PENDING),
        ("cancel", TaskStatus.PENDING, TaskStatus.CANCELLED),
        ("cancel", TaskStatus.SCHEDULED, TaskStatus.CANCELLED),
        ("run-now", TaskStatus.SCHEDULED, TaskStatus.PENDING),
    ],
)
def test_task_actions_ask_first_then_change_the_task(staff_client, action, before, after):
    task = TaskFactory(status=before, retry_count=2)
    url = f"/dashboard/tasks/{task.pk}/{action}/"

    asked = staff_client.post(url)
    assert asked.status_code == 200
    assert "Please confirm" in asked.content.decode() and 'name="confirm" value="yes"' in asked.content.decode()
    assert status_of(task) == before  # nothing changes before the operator says yes

    done = staff_client.post(url, YES)
    assert done.status_code == 302 and done.url == f"/dashboard/tasks/{task.pk}/"
    assert status_of(task) == after
    assert message(done).startswith("Task ")


def test_retry_gives_a_fresh_set_of_retries(staff_client):
    task = TaskFactory(status=TaskStatus.FAILED, retry_count=3, max_retries=3)
    staff_client.post(f"/dashboard/tasks/{task.pk}/retry/", YES)
    task.refresh_from_db()
    assert (task.status, task.retry_count, task.completed_at) == ("pending", 0, None)


@pytest.mark.parametrize(
    ("action", "status"),
    [("retry", TaskStatus.COMPLETED), ("retry", TaskStatus.PROCESSING), ("cancel", TaskStatus.PROCESSING),
     ("cancel", TaskStatus.COMPLETED), ("run-now", TaskStatus.PENDING), ("delete", TaskStatus.COMPLETED)],
)
def test_an_action_the_status_forbids_changes_nothing_and_says_why(staff_client, action, status):
    task = TaskFactory(status=status)
    response = staff_client.post(f"/dashboard/tasks/{task.pk}/{action}/", YES)
    assert response.status_code == 302
    assert status_of(task) == status
    assert f"is {status}; only" in message(response)


def test_deleting_a_dead_letter_takes_its_deliveries_along(staff_client):
    task = TaskFactory(status=TaskStatus.FAILED, webhook="https://example.com/h")
    WebhookDelivery.objects.create(task=task, event="task.failed", url=task.webhook)
    response = staff_client.post(f"/dashboard/tasks/{task.pk}/delete/", YES)
    assert response.url == "/dashboard/dead-letters/"
    assert not Task.objects.filter(pk=task.pk).exists()
    assert not WebhookDelivery.objects.filter(task_id=task.pk).exists()


def test_actions_refuse_get_and_unknown_tasks(staff_client):
    task = TaskFactory(status=TaskStatus.FAILED)
    assert staff_client.get(f"/dashboard/tasks/{task.pk}/retry/").status_code == 405
    assert staff_client.post(f"/dashboard/tasks/{uuid.uuid4()}/retry/", YES).status_code == 404
    assert status_of(task) == TaskStatus.FAILED


def test_actions_need_the_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    task = TaskFactory(status=TaskStatus.FAILED)
    assert client.post(f"/dashboard/tasks/{task.pk}/retry/", YES).status_code == 403
    assert status_of(task) == TaskStatus.FAILED
    # With the token from the page's own form, the same POST works.
    page = client.get(f"/dashboard/tasks/{task.pk}/")
    token = page.context["csrf_token"]
    assert client.post(f"/dashboard/tasks/{task.pk}/retry/", {**YES, "csrfmiddlewaretoken": str(token)}).status_code == 302
    assert status_of(task) == TaskStatus.PENDING


def test_actions_need_a_signed_in_user_with_a_scope(client, member_client):
    task = TaskFactory(status=TaskStatus.FAILED)
    worker = WorkerFactory()
    for url in (f"/dashboard/tasks/{task.pk}/retry/", f"/dashboard/workers/{worker.pk}/pause/",
                "/dashboard/queues/default/purge/", "/dashboard/tasks/bulk/"):
        assert client.post(url, YES).status_code == 302  # to the login page
        assert member_client.post(url, YES).status_code == 403
    assert status_of(task) == TaskStatus.FAILED
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING


def test_next_may_only_point_back_into_this_site(staff_client):
    task = TaskFactory(status=TaskStatus.FAILED)
    evil = staff_client.post(f"/dashboard/tasks/{task.pk}/retry/", {**YES, "next": "https://evil.example/x"})
    assert evil.url == f"/dashboard/tasks/{task.pk}/"
    other = TaskFactory(status=TaskStatus.FAILED)
    local = staff_client.post(f"/dashboard/tasks/{other.pk}/retry/", {**YES, "next": "/dashboard/dead-letters/?queue=a"})
    assert local.url == "/dashboard/dead-letters/?queue=a"


def test_pause_and_resume_a_worker_ask_first(staff_client):
    worker = WorkerFactory()
    asked = staff_client.post(f"/dashboard/workers/{worker.pk}/pause/")
    assert "Please confirm" in asked.content.decode() and f"Pause worker {worker.name}?" in asked.content.decode()
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING
    response = staff_client.post(f"/dashboard/workers/{worker.pk}/pause/", YES)
    assert response.url == "/dashboard/workers/"
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.PAUSED
    assert "is paused" in message(response)
    again = staff_client.post(f"/dashboard/workers/{worker.pk}/pause/", YES)
    assert "cannot be paused" in message(again)
    staff_client.post(f"/dashboard/workers/{worker.pk}/resume/", YES)
    assert Worker.objects.get(pk=worker.pk).state == WorkerState.RUNNING


def test_pause_resume_and_purge_a_queue_each_ask_first(staff_client):
    waiting = TaskFactory.create_batch(3, queue="emails", status=TaskStatus.PENDING)
    running = TaskFactory(queue="emails", status=TaskStatus.PROCESSING)
    other = TaskFactory(queue="default", status=TaskStatus.PENDING)

    assert "Pause queue emails?" in staff_client.post("/dashboard/queues/emails/pause/").content.decode()
    assert not Queue.is_paused("emails")
    staff_client.post("/dashboard/queues/emails/pause/", YES)
    assert Queue.is_paused("emails")
    assert "Resume queue emails?" in staff_client.post("/dashboard/queues/emails/resume/").content.decode()
    assert Queue.is_paused("emails")
    staff_client.post("/dashboard/queues/emails/resume/", YES)
    assert not Queue.is_paused("emails")

    asked = staff_client.post("/dashboard/queues/emails/purge/")
    assert "Purge queue emails?" in asked.content.decode()
    assert {status_of(t) for t in waiting} == {"pending"}
    done = staff_client.post("/dashboard/queues/emails/purge/", YES)
    assert "3 tasks cancelled" in message(done)
    assert {status_of(t) for t in waiting} == {"cancelled"}
    assert status_of(running) == "processing" and status_of(other) == "pending"


def test_retry_all_and_delete_all_dead_letters_of_a_filter_keep_the_filter_and_count_exactly(staff_client):
    emails = TaskFactory.create_batch(2, queue="emails", status=TaskStatus.FAILED)
    reports = TaskFactory.create_batch(3, queue="reports", status=TaskStatus.FAILED)
    done = TaskFactory(queue="emails", status=TaskStatus.COMPLETED)
    back = "/dashboard/dead-letters/?queue=emails"
    form = {"action": "retry", "scope": "matching", "list": "dead_letters", "queue": "emails", "next": back}

    asked = staff_client.post("/dashboard/tasks/bulk/", form).content.decode()
    assert "Retry 2 tasks? Those are the failed or cancelled tasks among the dead letters matching queue emails" in asked
    assert 'name="queue" value="emails"' in asked  # the filter rides along
    response = staff_client.post("/dashboard/tasks/bulk/", {**form, **YES})
    assert "2 tasks retried (the dead letters matching queue emails)" in message(response)
    assert response.url == back  # the same list, the same filter
    assert {status_of(t) for t in emails} == {"pending"}
    assert {status_of(t) for t in reports} == {"failed"}

    everything = {"action": "delete", "scope": "matching", "list": "dead_letters"}
    assert "Delete 3 tasks? Those are the failed (dead letters) tasks among every dead letter" in \
        staff_client.post("/dashboard/tasks/bulk/", everything).content.decode()
    response = staff_client.post("/dashboard/tasks/bulk/", {**everything, **YES})
    assert "3 tasks deleted" in message(response)
    assert not Task.objects.filter(pk__in=[t.pk for t in reports]).exists()
    assert Task.objects.filter(pk__in=[t.pk for t in emails + [done]]).count() == 3


def test_deleting_dead_letters_is_one_statement(django_assert_num_queries):
    from tasks import queue

    tasks = TaskFactory.create_batch(3, status=TaskStatus.FAILED, webhook="https://example.com/h")
    for task in tasks:
        WebhookDelivery.objects.create(task=task, event="task.failed", url=task.webhook)
    with django_assert_num_queries(1):
        assert queue.delete_dead_letters(Task.objects.all()) == 3
    assert not WebhookDelivery.objects.exists()
