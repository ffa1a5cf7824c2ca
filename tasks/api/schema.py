"""The OpenAPI schema as clients (and schemathesis) see it.

- Every operation documents the error responses it can give, in the one error
  shape, so that generated clients and the contract checks know them.
- The reference-compatibility root paths (/tasks, /stats, /health) are left
  out: they duplicate /api/... exactly.
- The task type is an enum of the types registered in this server.
- /api/events (server-sent events) and /metrics (Prometheus text) are plain
  Django views, described by hand (STREAM_PATHS).
- Bulk actions on dead letters document the list's filters (get_filter_backends).
"""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from tasks import conf
from tasks.handlers import registry

BODY_METHODS = ("POST", "PUT", "PATCH")
CONFLICT_ACTIONS = {"retry", "cancel", "destroy", "pause", "resume", "tasks"}  # tasks: adding to a closed batch
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, conflict, queue_full...")
    message = serializers.CharField(help_text="A sentence that says what is wrong and what to do.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text='The fields at fault and why; nested fields are named like "tasks[3].priority".',
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class QueueAutoSchema(AutoSchema):
    def get_filter_backends(self):
        # Bulk actions that take the list's filters (DELETE /api/dead-letters,
        # POST /api/dead-letters/retry) document them too: a generated client
        # must be able to act on some dead letters, not only on all of them.
        if getattr(self.view, "filters_every_method", False) and self.method in ("POST", "DELETE"):
            return [backend for backend in self.view.filter_backends if backend.__name__ == "FilterBackend"]
        return super().get_filter_backends()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_codes():
            if str(code) in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
            response["description"] = description
            if code in (429, 503):
                response["headers"] = RETRY_AFTER
            responses[str(code)] = response
        return responses

    def _error_codes(self) -> list[tuple[int, str]]:
        public = any(p is AllowAny for p in self.view.permission_classes)
        action = getattr(self.view, "action", None)
        has_body = self.method in BODY_METHODS and self.get_request_serializer() is not None
        codes = []
        # {name}: a path segment that is no queue name is a 400 saying why.
        if has_body or self._get_filter_parameters() or self._get_pagination_parameters() or "{name}" in self.path:
            codes.append((400, "Invalid input: the fields at fault are named."))
        if not public:
            codes.append((401, "No valid token: send 'Authorization: Token <token>'."))
        if not public:
            codes.append((403, "The key (or user) lacks the scope this operation needs (read, enqueue, operate, admin)."))
        if "{" in self.path:
            codes.append((404, "Not found."))
        if action in CONFLICT_ACTIONS or self.method == "DELETE" and "{" in self.path:
            codes.append((409, "The current state does not allow this; the message says why."))
        if self.method in BODY_METHODS or self.method == "DELETE":
            codes.append((413, "The request body is larger than QUEUE_API_MAX_BODY_BYTES."))
        if has_body:
            codes.append((415, "Send the body as application/json."))
        if not public:
            codes.append((429, "Rate limited: wait as Retry-After says."))
        codes.append((503, "The database is unreachable, or the queue is full (backpressure)."))
        return codes


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _csv_query(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


# Plain Django views (not DRF's), which drf-spectacular does not see: described here.
STREAM_PATHS = {
    "/api/events": {"get": {
        "operationId": "events_stream",
        "summary": "Task and worker events as server-sent events (text/event-stream).",
        "description": "Each event is `id: <cursor>`, `event: <name>` (task.created, task.completed, "
                       "worker.started, ...) and `data: <JSON>`. Reconnect with the Last-Event-ID header "
                       "(or ?last_event_id=) to receive what was missed. The same events as WebSocket /ws.",
        "tags": ["events"],
        "parameters": [
            _csv_query("queue", "Only these queues (comma-separated)."),
            _csv_query("type", "Only these task types (comma-separated)."),
            _csv_query("event", "Only these events (comma-separated; task.*, worker.*, webhook.* allowed)."),
            _csv_query("last_event_id", "Resume after this event id (as the Last-Event-ID header)."),
        ],
        "security": [{"tokenAuth": []}],
        "responses": {
            "200": {"description": "An endless stream of events.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "400": _error("Unknown event name, or a Last-Event-ID this server did not send."),
            "401": _error("No valid token: send 'Authorization: Token <token>'."),
            "503": {**_error("Too many open streams on this server, or the database is unreachable."),
                    "headers": RETRY_AFTER},
        },
    }},
    "/metrics": {"get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics (text exposition format).",
        "description": "Open unless QUEUE_METRICS_TOKEN is set; then send 'Authorization: Bearer <token>'.",
        "tags": ["metrics"],
        "security": [{}],
        "responses": {
            "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "401": _error("QUEUE_METRICS_TOKEN is set and was not sent."),
            "503": {**_error("The database is unreachable."), "headers": RETRY_AFTER},
        },
    }},
}


def only_api_paths(endpoints, **kwargs):
    """Preprocessing hook: document /api/... only, not the schema itself."""
    return [e for e in endpoints if e[0].startswith("/api/") and not e[0].startswith(("/api/schema", "/api/tasks/{var}"))]


def finish(result, generator, request, public):
    """Postprocessing hook: paths without a trailing slash; the `type` of a new
    task is one of this server's registered types."""
    # Routes accept paths with or without the slash; document them as the reference does, without.
    result["paths"] = {path.rstrip("/"): item for path, item in result["paths"].items()}
    result["paths"].update(STREAM_PATHS)
    schemas = result.get("components", {}).get("schemas", {})
    for component in ("TaskCreateRequest", "BulkTaskRequest"):
        if properties := schemas.get(component, {}).get("properties"):
            properties["type"]["enum"] = registry.exposed_names()
            properties["timeout"].update(minimum=0, exclusiveMinimum=True)
    if bulk := schemas.get("BulkCreateRequest"):
        bulk["properties"]["tasks"].update(minItems=1, maxItems=conf.get("BULK_MAX"))
    return result
