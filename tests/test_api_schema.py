"""The OpenAPI schema: valid, complete, and honest about errors."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = {
    "/api/tasks", "/api/tasks/bulk", "/api/tasks/{id}", "/api/tasks/{id}/details", "/api/tasks/{id}/retry",
    "/api/tasks/{id}/cancel", "/api/stats", "/api/health", "/api/workers", "/api/workers/{id}",
    "/api/workers/{id}/pause", "/api/workers/{id}/resume", "/api/queues", "/api/queues/{name}",
    "/api/queues/{name}/pause", "/api/queues/{name}/resume", "/api/queues/{name}/purge",
    "/api/dead-letters", "/api/dead-letters/retry", "/api/events", "/metrics",
    "/api/workflows", "/api/workflows/{id}", "/api/workflows/{id}/cancel",
    "/api/batches", "/api/batches/{id}", "/api/batches/{id}/tasks", "/api/batches/{id}/close",
    "/api/batches/{id}/cancel",
    # The reference documents' paths that generated clients need (tasks/api/compat_urls.py).
    "/api/v1/tasks", "/api/v1/tasks/{id}", "/api/queue/email", "/api/queue/email/delayed", "/api/queue/image",
    "/api/queue/stats",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_endpoint_is_documented_without_a_trailing_slash(schema):
    assert set(schema["paths"]) == EXPECTED_PATHS


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            if path not in ("/api/health", "/api/events", "/metrics"):  # the last two are not rate limited
                assert {"401", "429"} <= set(responses), (method, path)
                assert responses["429"]["headers"]["Retry-After"]
            if "{" in path:
                assert "404" in responses, (method, path)
            for code, response in responses.items():
                if code.startswith(("4", "5")) and path != "/api/health":
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_request_bodies_say_what_is_accepted(schema):
    create = schema["components"]["schemas"]["TaskCreateRequest"]
    assert create["required"] == ["type"]
    assert {"echo", "email", "sleep", "fail", "webhook"} <= set(create["properties"]["type"]["enum"])
    assert create["properties"]["priority"]["minimum"] == -100 and create["properties"]["priority"]["maximum"] == 100
    assert create["properties"]["timeout"]["exclusiveMinimum"] is True
    bulk = schema["components"]["schemas"]["BulkCreateRequest"]["properties"]["tasks"]
    assert bulk["minItems"] == 1 and bulk["maxItems"] == 1000
    retry = schema["paths"]["/api/tasks/{id}/retry"]["post"]
    assert "requestBody" not in retry and "409" in retry["responses"]
    assert schema["paths"]["/api/health"]["get"].get("security") in (None, [], [{}])  # no token needed
    assert schema["paths"]["/api/stats"]["get"]["security"] == [{"tokenAuth": []}]


def test_a_task_documents_its_workflow_and_batch_and_details_its_relatives(schema):
    schemas = schema["components"]["schemas"]
    for name in ("Task", "TaskDetail"):
        fields = schemas[name]["properties"]
        assert {"workflow_id", "node", "batch_id"} <= set(fields), name
        assert fields["workflow_id"].get("nullable") and fields["batch_id"].get("nullable"), name
    details = schemas["TaskDetail"]["properties"]
    for side in ("dependencies", "dependents"):
        item = details[side]["items"]
        item = schemas[item["$ref"].rsplit("/", 1)[-1]] if "$ref" in item else item
        assert set(item["properties"]) == {"task_id", "node", "type", "status", "ignore_failed"}, side
