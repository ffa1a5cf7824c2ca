"""The REST API's operator actions land in the audit log (who, which key, what, how many),
beside the dashboard's and the admin's; creating tasks does not."""

import pytest

from tasks.models import Queue, TaskStatus
from tasks.models.audit import AuditEntry
from tests.api_helpers import post
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def entries():
    return [(e.source, e.username, e.action, e.count) for e in AuditEntry.objects.order_by("id")]


def test_each_operator_action_is_recorded_with_its_user_key_and_count(staff_api):
    failed = TaskFactory.create_batch(2, status=TaskStatus.FAILED, queue="mail")
    pending = TaskFactory(status=TaskStatus.PENDING, queue="mail")
    assert post(staff_api, "/api/tasks", {"type": "echo"}).status_code == 201  # not an operator action
    assert post(staff_api, f"/api/tasks/{failed[0].id}/retry").status_code == 200
    assert post(staff_api, f"/api/tasks/{pending.id}/cancel").status_code == 200
    assert post(staff_api, "/api/queues/mail/pause").status_code == 200
    assert staff_api.patch("/api/queues/mail", {"max_pending": 10}, format="json").status_code == 200
    assert post(staff_api, "/api/dead-letters/retry?queue=mail").status_code == 200
    assert entries() == [
        ("api", "operator", "task.retry", 1),
        ("api", "operator", "task.cancel", 1),
        ("api", "operator", "queue.pause", 1),
        ("api", "operator", "queue.change", 1),
        ("api", "operator", "dead_letters.retry", 1),
    ]
    last = AuditEntry.objects.order_by("id").last()
    assert last.details["filter"] == "queue=mail" and last.details["key"].endswith("(test)")
    assert AuditEntry.objects.get(action="queue.change").details["settings"] == {"max_pending": 10}
    assert Queue.objects.get(name="mail").paused


def test_a_refused_action_records_nothing(staff_api, api):
    task = TaskFactory(status=TaskStatus.COMPLETED)
    assert post(staff_api, f"/api/tasks/{task.id}/retry").status_code == 409
    assert post(api, f"/api/tasks/{task.id}/retry").status_code == 403
    assert staff_api.delete("/api/dead-letters").status_code == 400  # no filter and no all=true
    assert entries() == []


def test_the_dashboards_audit_page_lists_the_apis_entries(staff, staff_client):
    from tests.api_helpers import client_for

    staff_api = client_for(staff)
    TaskFactory(status=TaskStatus.PENDING, queue="q1")
    assert post(staff_api, "/api/queues/q1/purge").status_code == 200
    page = staff_client.get("/dashboard/audit/").content.decode()
    assert "queue.purge" in page and "queue q1" in page
