"""What a newcomer's tests of the REST API found (issue 15), each pinned by a test."""

import pytest

from tasks.models import Task, TaskStatus
from tests.api_helpers import error_of, post
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


# --- 1. unknown query parameters, and bulk actions with no filter ------------


@pytest.mark.parametrize("path", [
    "/api/tasks?queu=dq", "/api/dead-letters?queu=dq", "/api/workers?stat=running", "/api/queues?x=1",
    "/api/tasks?status=pending&limt=5",
])
def test_a_list_names_an_unknown_query_parameter(staff_api, path):
    name = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    error = error_of(staff_api.get(path), 400, "invalid")
    assert list(error["fields"]) == [name] and "Unknown query parameter" in error["fields"][name][0]


def test_a_misspelt_filter_deletes_and_retries_nothing(staff_api):
    TaskFactory.create_batch(3, status=TaskStatus.FAILED, queue="other")
    TaskFactory(status=TaskStatus.FAILED, queue="dq")
    assert "queu" in error_of(staff_api.delete("/api/dead-letters?queu=dq"), 400)["fields"]
    assert "queu" in error_of(post(staff_api, "/api/dead-letters/retry?queu=dq"), 400)["fields"]
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 4
    assert post(staff_api, "/api/tasks/bulk?queu=dq", {"tasks": [{"type": "echo"}]}).status_code == 400


def test_a_bulk_action_without_a_filter_needs_all_true(staff_api):
    TaskFactory.create_batch(2, status=TaskStatus.FAILED, queue="other")
    TaskFactory(status=TaskStatus.FAILED, queue="dq")
    assert "all" in error_of(staff_api.delete("/api/dead-letters"), 400)["fields"]
    assert "all" in error_of(post(staff_api, "/api/dead-letters/retry"), 400)["fields"]
    assert "all" in error_of(staff_api.delete("/api/dead-letters?all=yes"), 400)["fields"]
    assert "all" in error_of(staff_api.get("/api/dead-letters?all=true"), 400)["fields"]  # a list has no "all"
    assert Task.objects.filter(status=TaskStatus.FAILED).count() == 3
    assert staff_api.delete("/api/dead-letters?queue=dq").json() == {"deleted": 1}
    assert post(staff_api, "/api/dead-letters/retry?all=true").json() == {"retried": 2}
    assert staff_api.delete("/api/dead-letters?all=true").json() == {"deleted": 0}


# --- 2. the schema: the filters of bulk actions, the event stream, the metrics ---


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    import yaml
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path, method", [("/api/dead-letters", "delete"), ("/api/dead-letters/retry", "post")])
def test_the_schema_gives_bulk_dead_letter_actions_their_filters(schema, path, method):
    names = {p["name"] for p in schema["paths"][path][method].get("parameters", [])}
    assert {"queue", "type", "search", "created_after", "all"} <= names
    assert "400" in schema["paths"][path][method]["responses"]


def test_the_schema_describes_events_and_metrics(schema):
    events = schema["paths"]["/api/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert {p["name"] for p in events["parameters"]} >= {"queue", "type", "event"}
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
