"""The workflows and batches pages: the DAG as SVG with each node's status and
link, the batch's counts and callbacks, cancel confirmed, and the task page's
dependencies and dependents."""

import pytest

from tasks.models import Task
from tasks.queue.batches import Batch
from tasks.queue.workflows import Workflow, call
from tests.test_workflows import run

from dashboard import graph

pytestmark = pytest.mark.django_db
YES = {"confirm": "yes"}


def diamond():
    workflow = Workflow("diamond")
    a = workflow.add("echo", 1, name="fetch")
    b = workflow.add("echo", 2, name="left", deps=[a])
    c = workflow.add("echo", 3, name="right", deps=[a])
    d = workflow.add("echo", 4, name="merge", deps=[b, c], ignore_failed=[c])
    workflow.enqueue()
    return workflow, (a, b, c, d)


def test_the_workflow_page_draws_the_dag_with_statuses_and_links(staff_client):
    workflow, (a, b, c, d) = diamond()
    run()
    page = staff_client.get(f"/dashboard/workflows/{workflow.row.id}/").content.decode()
    assert '<svg class="dag"' in page
    assert f'href="/dashboard/tasks/{a.id}/"><g class="node s-completed">' in page
    assert f'href="/dashboard/tasks/{d.id}/"><g class="node s-waiting">' in page
    assert page.count('<line ') == 4 and page.count('class="edge ignore"') == 1
    assert 'style=' not in page.split('<svg class="dag"')[1].split("</svg>")[0]  # strict CSP: classes only
    listing = staff_client.get("/dashboard/workflows/").content.decode()
    assert f"/dashboard/workflows/{workflow.row.id}/" in listing and "diamond" in listing


def test_columns_follow_the_longest_path():
    assert graph.depths({"a": [], "b": ["a"], "c": ["a", "b"], "d": []}) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_the_task_page_shows_dependencies_and_dependents(staff_client):
    workflow, (a, b, c, d) = diamond()
    page = staff_client.get(f"/dashboard/tasks/{b.id}/").content.decode()
    assert f'<a href="/dashboard/tasks/{a.id}/">fetch</a>' in page
    assert f'<a href="/dashboard/tasks/{d.id}/">merge</a>' in page
    assert f"/dashboard/workflows/{workflow.row.id}/" in page


def test_cancelling_a_workflow_and_a_batch_from_the_dashboard(staff_client):
    workflow, nodes = diamond()
    response = staff_client.post(f"/dashboard/workflows/{workflow.row.id}/cancel/", YES)
    assert response.status_code == 302
    assert set(Task.objects.filter(workflow_id=workflow.row.id).values_list("status", flat=True)) == {"cancelled"}
    batch = Batch("b", on_success=call("echo", "ok"))
    batch.add(call("echo", 1))
    page = staff_client.get(f"/dashboard/batches/{batch.id}/").content.decode()
    assert "on_success" in page and "open: tasks may still be added" in page
    staff_client.post(f"/dashboard/batches/{batch.id}/cancel/", YES)
    assert Task.objects.get(pk=batch.row.on_success).status == "cancelled"


def test_members_without_the_operate_scope_cannot_cancel(member_client):
    workflow, _ = diamond()
    assert member_client.post(f"/dashboard/workflows/{workflow.row.id}/cancel/", YES).status_code == 403


def test_waiting_is_a_status_like_the_others_in_lists_and_filters(staff_client, django_user_model):
    from tests.api_helpers import client_for

    workflow, (a, b, c, d) = diamond()
    page = staff_client.get("/dashboard/tasks/?status=waiting").content.decode()
    assert f"/dashboard/tasks/{b.id}/" in page and "badge status-waiting" in page
    assert f"/dashboard/tasks/{a.id}/" not in page
    api = client_for(django_user_model.objects.create_user("reader"))
    listed = api.get("/api/tasks?status=waiting").json()
    assert {t["id"] for t in listed["results"]} == {str(b.id), str(c.id), str(d.id)}
    assert api.get("/api/stats").json()["waiting_count"] == 3
