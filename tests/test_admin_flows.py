"""The Django admin of workflows and batches: lists with counts, search, pages
linking to the tasks, and the audited cancel action (tasks/admin/flow_admin.py)."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tasks.models import AuditEntry, Batch, Source, Task, Workflow
from tasks.queue.batches import add_to_batch, enqueue_batch
from tasks.queue.workflows import Workflow as Builder
from tasks.queue.workflows import call
from tests.test_workflows import run

pytestmark = pytest.mark.django_db


def workflow(name="etl", size=2) -> Workflow:
    flow = Builder(name)
    first = flow.add(call("echo", {"n": 0}), name="a")
    for i in range(1, size):
        flow.add(call("echo", {"n": i}), name=f"n{i}", deps=[first])
    return flow.enqueue()


def batch(name="b", size=3) -> Batch:
    return enqueue_batch([call("echo", {"n": i}) for i in range(size)], name=name, on_success=call("echo", "ok"))


def read_only_client(django_user_model) -> Client:
    user = django_user_model.objects.create_user("reader", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="queue_read"))
    client = Client()
    client.force_login(user)
    return client


def test_the_workflow_list_shows_counts_by_status_and_searches_by_id_and_name(admin_client):
    etl = workflow("etl", size=3)
    other = workflow("reports", size=1)
    html = admin_client.get("/admin/tasks/workflow/").content.decode()
    assert "etl" in html and "reports" in html
    assert "1 pending, 2 waiting" in html and "1 pending" in html
    assert '<b class="queue-status queue-status-running">running</b>' in html
    for term in (str(etl.id), str(etl.id).replace("-", "")[:12], "et"):
        found = admin_client.get("/admin/tasks/workflow/", {"q": term}).content.decode()
        assert f"/admin/tasks/workflow/{etl.pk}/change/" in found, term
        assert f"/admin/tasks/workflow/{other.pk}/change/" not in found, term
    run()
    run()
    html = admin_client.get("/admin/tasks/workflow/").content.decode()
    assert "3 completed" in html and "queue-status-completed" in html


def test_a_workflow_page_links_to_each_node_and_to_the_filtered_task_list(admin_client):
    etl = workflow("etl", size=2)
    a, b = Task.objects.filter(workflow_id=etl.id).order_by("id")
    html = admin_client.get(f"/admin/tasks/workflow/{etl.pk}/change/").content.decode()
    assert f"/admin/tasks/task/{a.pk}/change/" in html and f"/admin/tasks/task/{b.pk}/change/" in html
    assert f"/admin/tasks/task/?workflow_id={etl.pk}" in html and "All 2 task(s)" in html
    listed = admin_client.get(f"/admin/tasks/task/?workflow_id={etl.pk}")
    assert listed.status_code == 200 and f"/admin/tasks/task/{a.pk}/change/" in listed.content.decode()


def test_the_batch_list_and_page_show_counts_callbacks_and_tasks(admin_client):
    done = batch("nightly", size=2)
    run()
    open_one = batch("weekly", size=1)
    html = admin_client.get("/admin/tasks/batch/").content.decode()
    assert "nightly" in html and "queue-status-succeeded" in html and "100%" in html
    assert "queue-status-running" in html
    finished = admin_client.get("/admin/tasks/batch/?state=finished").content.decode()
    assert "nightly" in finished and "weekly" not in finished
    found = admin_client.get("/admin/tasks/batch/", {"q": str(open_one.id)}).content.decode()
    assert "weekly" in found and "nightly" not in found
    page = admin_client.get(f"/admin/tasks/batch/{done.pk}/change/").content.decode()
    for task in Task.objects.filter(batch_id=done.id):
        assert f"/admin/tasks/task/{task.pk}/change/" in page
    assert f"/admin/tasks/task/{done.on_success}/change/" in page and "(pending)" in page
    assert f"/admin/tasks/task/?batch_id={done.pk}" in page
    assert admin_client.get(f"/admin/tasks/task/?batch_id={done.pk}").status_code == 200


def test_the_lists_make_the_same_queries_for_one_row_or_many(admin_client):
    workflow("w0")
    batch("b0")
    before = {}
    for path in ("/admin/tasks/workflow/", "/admin/tasks/batch/"):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(path).status_code == 200
        before[path] = len(queries.captured_queries)
    for i in range(1, 8):
        workflow(f"w{i}", size=3)
        batch(f"b{i}")
    for path, count in before.items():
        with CaptureQueriesContext(connection) as queries:
            html = admin_client.get(path).content.decode()
        assert "w7" in html or "b7" in html
        assert len(queries.captured_queries) == count, path


def test_cancelling_workflows_and_batches_is_confirmed_goes_through_the_queue_and_is_audited(admin_client):
    etl = workflow("etl", size=3)
    ask = admin_client.post("/admin/tasks/workflow/", {"action": "cancel_selected", "_selected_action": [etl.pk]})
    assert "Please confirm" in ask.content.decode()
    assert not Task.objects.filter(workflow_id=etl.id, status="cancelled").exists()
    done = admin_client.post("/admin/tasks/workflow/", {"action": "cancel_selected", "_selected_action": [etl.pk],
                                                        "confirm": "yes"}, follow=True)
    assert "3 task(s) that had not started" in done.content.decode()
    assert set(Task.objects.filter(workflow_id=etl.id).values_list("status", flat=True)) == {"cancelled"}
    entry = AuditEntry.objects.get(action="workflow.cancel")
    assert (entry.source, entry.count, entry.target) == (Source.ADMIN, 3, f"workflow {etl.id}")

    nightly = Batch.objects.get(pk=batch("nightly", size=2).pk)
    admin_client.post("/admin/tasks/batch/", {"action": "cancel_selected", "_selected_action": [nightly.pk],
                                              "confirm": "yes"})
    nightly.refresh_from_db()
    assert (nightly.cancelled, nightly.closed) == (2, True)
    assert Task.objects.get(pk=nightly.on_success).status == "cancelled"
    entry = AuditEntry.objects.get(action="batch.cancel")
    assert (entry.source, entry.count, entry.details["ids"]) == (Source.ADMIN, 2, [str(nightly.id)])


def test_readers_see_but_cannot_cancel_and_nobody_edits(django_user_model, admin_client):
    etl = workflow("etl", size=1)
    reader = read_only_client(django_user_model)
    assert reader.get("/admin/tasks/workflow/").status_code == 200
    assert reader.get(f"/admin/tasks/batch/{batch().pk}/change/").status_code == 200
    assert "cancel_selected" not in reader.get("/admin/tasks/workflow/").content.decode()
    reader.post("/admin/tasks/workflow/", {"action": "cancel_selected", "_selected_action": [etl.pk],
                                           "confirm": "yes"})
    assert Task.objects.get(workflow_id=etl.id).status == "pending"
    assert not AuditEntry.objects.filter(action="workflow.cancel").exists()
    assert admin_client.get("/admin/tasks/workflow/add/").status_code == 403
    page = admin_client.get(f"/admin/tasks/workflow/{etl.pk}/change/").content.decode()
    assert 'name="name"' not in page  # read-only: shown, not a form field


def test_a_tasks_admin_page_links_to_its_workflow_or_batch(admin_client):
    etl = workflow("etl", size=1)
    node = Task.objects.get(workflow_id=etl.id)
    page = admin_client.get(f"/admin/tasks/task/{node.pk}/change/").content.decode()
    assert f"/admin/tasks/workflow/{etl.pk}/change/" in page and "as node a" in page
    nightly = batch("nightly", size=1)
    member = Task.objects.filter(batch_id=nightly.id).first()
    page = admin_client.get(f"/admin/tasks/task/{member.pk}/change/").content.decode()
    assert f"/admin/tasks/batch/{nightly.pk}/change/" in page
