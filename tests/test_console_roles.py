"""Who may do what in the dashboard and the admin (the scopes of tasks/access/),
bulk actions on selected rows, and the audit log every action writes."""

import pytest
from django.test import Client

from tasks.models import AuditEntry, Queue, Task, TaskStatus, WebhookDelivery, Worker, WorkerState
from tests.dashboard_helpers import queue_group, queue_groups
from tests.factories import ScheduleFactory, TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db

YES = {"confirm": "yes"}
PAGES = ["/dashboard/", "/dashboard/tasks/", "/dashboard/workers/", "/dashboard/queues/", "/dashboard/dead-letters/",
         "/dashboard/schedules/", "/dashboard/metrics/", "/dashboard/audit/"]


def member_of(django_user_model, group: str, name: str, *, staff: bool = True) -> Client:
    user = django_user_model.objects.create_user(name, password="pw-1", is_staff=staff)
    user.groups.add(queue_group(group))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(django_user_model):
    return member_of(django_user_model, "Queue viewers", "viewer")


@pytest.fixture
def operator(django_user_model):
    return member_of(django_user_model, "Queue operators", "ops")


@pytest.fixture
def things():
    failed = TaskFactory(status=TaskStatus.FAILED, webhook="https://example.com/h")
    delivery = WebhookDelivery.objects.create(task=failed, url=failed.webhook, status="failed")
    return {"failed": failed, "scheduled": TaskFactory(status=TaskStatus.SCHEDULED), "worker": WorkerFactory(),
            "schedule": ScheduleFactory(), "delivery": delivery, "queue": Queue.objects.create(name="emails")}


def every_action(t) -> list[tuple[str, dict]]:
    f, s = t["failed"].pk, t["scheduled"].pk
    return [
        (f"/dashboard/tasks/{f}/retry/", {}), (f"/dashboard/tasks/{f}/delete/", {}),
        (f"/dashboard/tasks/{s}/cancel/", {}), (f"/dashboard/tasks/{s}/run-now/", {}),
        (f"/dashboard/tasks/{f}/deliveries/{t['delivery'].pk}/redeliver/", {}),
        ("/dashboard/tasks/bulk/", {"action": "retry", "scope": "matching"}),
        ("/dashboard/tasks/bulk/", {"action": "cancel", "scope": "selected", "ids": [s]}),
        (f"/dashboard/workers/{t['worker'].pk}/pause/", {}), ("/dashboard/queues/emails/pause/", {}),
        ("/dashboard/queues/emails/purge/", {}), (f"/dashboard/schedules/{t['schedule'].pk}/run", {}),
        (f"/dashboard/schedules/{t['schedule'].pk}/disable", {}),
        ("/dashboard/tasks/new/", {"tab": "basic", "type": "echo", "payload": "x"}),
    ]


def unchanged(t) -> bool:
    return (Task.objects.get(pk=t["failed"].pk).status == TaskStatus.FAILED
            and Task.objects.get(pk=t["scheduled"].pk).status == TaskStatus.SCHEDULED
            and Task.objects.count() == 2 and not Queue.is_paused("emails")
            and Worker.objects.get(pk=t["worker"].pk).state == WorkerState.RUNNING
            and WebhookDelivery.objects.get().status == "failed" and not AuditEntry.objects.exists())


def test_a_read_only_operator_sees_every_page_and_no_button(viewer, things):
    for path in PAGES + [f"/dashboard/tasks/{things['failed'].pk}/"]:
        response = viewer.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert "read-only" in html and 'data-confirm' not in html and 'class="bulk"' not in html, path
    assert 'href="/dashboard/tasks/new/"' not in viewer.get("/dashboard/").content.decode()


def test_a_read_only_operator_is_refused_every_action_whatever_the_page_showed(viewer, things):
    for url, data in every_action(things):
        assert viewer.post(url, {**data, **YES}).status_code == 403, url
    assert unchanged(things)


def test_operators_act_on_tasks_and_create_them_but_not_on_schedules(operator, things):
    assert operator.post(f"/dashboard/tasks/{things['failed'].pk}/retry/", YES).status_code == 302
    assert operator.post("/dashboard/tasks/new/", {"tab": "basic", "type": "echo"}).status_code == 302
    assert operator.post(f"/dashboard/schedules/{things['schedule'].pk}/run", YES).status_code == 403
    assert ">Run now</button>" not in operator.get("/dashboard/schedules/").content.decode()


def test_every_dashboard_action_is_written_to_the_audit_log(admin_client, things):
    for url, data in every_action(things):
        assert admin_client.post(url, {**data, **YES}).status_code == 302, url
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == [
        "task.retry", "task.delete", "task.cancel", "task.run_now", "delivery.redeliver", "tasks.retry",
        "tasks.cancel", "worker.pause", "queue.pause", "queue.purge", "schedule.run", "schedule.disable",
        "task.create"]
    assert {e.username for e in entries} == {"admin"} and {e.source for e in entries} == {"dashboard"}
    # How many rows each changed: a retried task is no dead letter to delete, a cancelled one does not
    # run now, and the bulk retry takes the cancelled one back, which the bulk cancel then cancels again.
    assert [e.count for e in entries][:7] == [1, 0, 1, 0, 1, 1, 1]
    html = admin_client.get("/dashboard/audit/").content.decode()
    assert html.count("<tr data-audit=") == 13 and "<code>queue.purge</code>" in html
    assert "queue.purge" in admin_client.get("/admin/tasks/auditentry/").content.decode()
    entry = entries[0]
    assert admin_client.post(f"/admin/tasks/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_bulk_actions_on_selected_rows_count_exactly_and_leave_the_others(staff_client):
    failed = TaskFactory.create_batch(2, status=TaskStatus.FAILED)
    done = TaskFactory(status=TaskStatus.COMPLETED)
    untouched = TaskFactory(status=TaskStatus.FAILED)
    form = {"action": "retry", "scope": "selected", "ids": [t.pk for t in (*failed, done)],
            "next": "/dashboard/tasks/?status=failed"}
    asked = staff_client.post("/dashboard/tasks/bulk/", form).content.decode()
    assert "Retry 2 tasks? Those are the failed or cancelled tasks among the 3 selected tasks" in asked
    response = staff_client.post("/dashboard/tasks/bulk/", {**form, **YES})
    assert response.url == "/dashboard/tasks/?status=failed"
    assert {Task.objects.get(pk=t.pk).status for t in failed} == {"pending"}
    assert Task.objects.get(pk=done.pk).status == "completed" and Task.objects.get(pk=untouched.pk).status == "failed"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.count, len(entry.details["ids"])) == ("tasks.retry", 2, 3)


@pytest.mark.parametrize("form, reason", [
    ({"action": "delete", "scope": "selected"}, "No task is selected"),
    ({"action": "delete", "scope": "selected", "ids": ["not-an-id"]}, "not a task id"),
    ({"action": "delete", "scope": "matching", "priority": "high"}, "The filter is not valid (priority"),
    ({"action": "delete", "scope": "matching", "status": "nonsense"}, "The filter is not valid (status"),
    ({"action": "explode", "scope": "matching"}, "Choose an action"),
    ({"action": "delete"}, "Choose an action"),
])
def test_a_bulk_action_that_cannot_say_which_tasks_changes_nothing(staff_client, form, reason):
    TaskFactory.create_batch(2, status=TaskStatus.FAILED)
    response = staff_client.post("/dashboard/tasks/bulk/", {**form, **YES})
    assert response.status_code == 400 and reason in response.content.decode()
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 2 and not AuditEntry.objects.exists()


def test_the_admin_follows_the_scopes_and_records_its_actions(django_user_model, admin_client):
    viewer = member_of(django_user_model, "Queue viewers", "admin-viewer")
    failed = TaskFactory(status=TaskStatus.FAILED)
    assert viewer.get("/admin/tasks/task/").status_code == 200
    page = viewer.get(f"/admin/tasks/task/{failed.pk}/change/").content.decode()
    assert 'name="priority"' not in page  # seen, not editable
    viewer.post("/admin/tasks/task/", {"action": "retry_tasks", "_selected_action": [failed.pk]})
    assert Task.objects.get(pk=failed.pk).status == TaskStatus.FAILED
    assert viewer.post("/admin/tasks/queue/add/", {"name": "q", "max_pending": ""}).status_code == 403
    admin_client.post("/admin/tasks/task/", {"action": "retry_tasks", "_selected_action": [failed.pk]})
    assert Task.objects.get(pk=failed.pk).status == TaskStatus.PENDING
    entry = AuditEntry.objects.get()
    assert (entry.source, entry.action, entry.count, entry.username) == ("admin", "tasks.retry", 1, "admin")


def test_the_admin_deletes_only_finished_tasks_after_saying_how_many(admin_client):
    done, running = TaskFactory(status=TaskStatus.COMPLETED), TaskFactory(status=TaskStatus.PROCESSING)
    form = {"action": "delete_finished", "_selected_action": [done.pk, running.pk]}
    asked = admin_client.post("/admin/tasks/task/", form).content.decode()
    assert "Delete 1 of the 2 selected tasks" in asked and Task.objects.count() == 2
    admin_client.post("/admin/tasks/task/", {**form, **YES})
    assert list(Task.objects.values_list("pk", flat=True)) == [running.pk]


def test_the_migration_makes_a_viewers_and_an_operators_group_with_their_scopes():
    from django.contrib.auth.models import Group

    Group.objects.filter(name__in=list(queue_groups.GROUPS)).delete()
    for name, codenames in queue_groups.GROUPS.items():
        assert set(queue_group(name).permissions.values_list("codename", flat=True)) == set(codenames)
    assert queue_groups.GROUPS == {"Queue viewers": ["queue_read"],
                                   "Queue operators": ["queue_read", "queue_enqueue", "queue_operate"]}
