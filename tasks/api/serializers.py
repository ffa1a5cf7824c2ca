"""Task JSON, and validation of new tasks (one or a batch)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Manager
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from rest_framework import serializers

from tasks import conf, queue, validation
from tasks.models import Task


class TaskListSerializer(serializers.ListSerializer):
    def to_representation(self, data) -> list[dict]:
        # The time zone once per page: each lookup takes a lock that every thread shares.
        zone = timezone.get_current_timezone()
        tasks = data.all() if isinstance(data, Manager) else data
        return [task.as_json(zone) for task in tasks]


class TaskSerializer(serializers.ModelSerializer):
    """A task as GET /api/tasks/{id} returns it (and as webhooks receive it)."""

    scheduled_for = serializers.DateTimeField(source="run_at", read_only=True)
    error = serializers.CharField(source="last_error", read_only=True)
    webhook = serializers.CharField(read_only=True, help_text="An http(s) URL, or empty.")

    class Meta:
        model = Task
        fields = [
            "id", "type", "payload", "status", "priority", "queue", "max_retries", "retry_count",
            "attempt", "scheduled_for", "timeout", "webhook", "metadata", "result", "error", "progress",
            "progress_message", "worker_id", "workflow_id", "node", "batch_id", "created_at", "updated_at", "started_at", "completed_at",
        ]
        read_only_fields = fields
        list_serializer_class = TaskListSerializer

    def to_representation(self, instance: Task) -> dict:
        # The fields above describe the schema; the JSON itself is the model's
        # (the same, built without DRF's per-field machinery: every read pays it).
        return instance.as_json()


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a time zone; a naive time is ambiguous, so it is refused."""

    default_error_messages = {
        "naive": "Include a time zone, for example 2030-01-01T09:00:00Z.",
        "invalid": "Use ISO 8601 with a time zone, for example 2030-01-01T09:00:00Z.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


PRIORITY_RANGE = f"Priority must be between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}; higher runs first."
RETRIES_RANGE = f"max_retries must be a whole number from 0 to {validation.MAX_RETRIES}."


def _range(message: str) -> dict:
    return {"min_value": message, "max_value": message}


# JSON types each kind of field accepts. DRF would coerce 5 into "5" and "5"
# into 5; a client that sends the wrong type has a bug worth hearing about.
JSON_TYPES = [
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string (ISO 8601)"),
]


def _json_type_error(field, value) -> str | None:
    if value is None:
        return None
    for kind, types, words in JSON_TYPES:
        if isinstance(field, kind):
            ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
            return None if ok else f"Must be {words}."
    return None


class StrictFields:
    """Refuse fields the serializer does not know (a typo must not pass
    silently) and values of the wrong JSON type. Checked in to_internal_value,
    so that it also runs for each item of a list."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            for name, field in self.fields.items():
                if name in data and (message := _json_type_error(field, data[name])):
                    errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class TaskCreateSerializer(StrictFields, serializers.Serializer):
    """The body of POST /api/tasks. Only registered types are accepted."""

    type = serializers.CharField(max_length=100)
    payload = serializers.JSONField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, default=0, min_value=TASK_MIN_PRIORITY,
                                        max_value=TASK_MAX_PRIORITY, error_messages=_range(PRIORITY_RANGE))
    max_retries = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                           max_value=validation.MAX_RETRIES, error_messages=_range(RETRIES_RANGE))
    scheduled_for = AwareDateTimeField(required=False, allow_null=True, default=None)
    webhook = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    queue = serializers.RegexField(validation.QUEUE_NAME, required=False, default="default", max_length=100,
                                   error_messages={"invalid": validation.queue_error("")})
    timeout = serializers.FloatField(required=False, allow_null=True, default=None,
                                     max_value=validation.MAX_TIMEOUT, help_text="Seconds, above 0.")
    metadata = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text='Your own labels, a JSON object: stored and returned with the task, searchable '
                  'with ?metadata={"user_id": "123"}.',
    )
    idempotency_key = serializers.CharField(
        required=False, allow_null=True, default=None, min_length=1, max_length=255,
        help_text="A repeat with the same key returns the task created first (200), never a second task. "
                  "The Idempotency-Key header does the same.",
    )
    # Flow control (docs/flow-control.md); bodies with them take this serializer, not the fast intake.
    partition_key = serializers.CharField(
        required=False, allow_null=True, default=None, min_length=1, max_length=255,
        help_text="The partition whose limits (partition_max_running) the task counts against.")
    ordering_key = serializers.CharField(
        required=False, allow_null=True, default=None, min_length=1, max_length=255,
        help_text="Tasks sharing it run one at a time, in creation order (an ordered queue only).")

    def validate_type(self, value):
        return _check(validation.type_error(value, exposed_only=True), value)

    def validate_priority(self, value):
        return _check(validation.priority_error(value), value)

    def validate_max_retries(self, value):
        return value if value is None else _check(validation.max_retries_error(value), value)

    def validate_queue(self, value):
        return _check(validation.queue_error(value), value)

    def validate_timeout(self, value):
        return _check(validation.timeout_error(value), value)

    def validate_webhook(self, value):
        return _check(validation.webhook_error(value), value)

    def validate_metadata(self, value):
        return _check(validation.metadata_error(value), value)

    def validate(self, attrs):
        try:
            attrs["task"] = queue.build(
                attrs["type"], attrs["payload"], queue=attrs["queue"], priority=attrs["priority"],
                run_at=attrs["scheduled_for"], max_retries=attrs["max_retries"],
                timeout=attrs["timeout"], webhook=attrs["webhook"],
                idempotency_key=attrs.get("idempotency_key"), metadata=attrs.get("metadata"),
                partition_key=attrs.get("partition_key"), ordering_key=attrs.get("ordering_key"),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class BulkTaskSerializer(TaskCreateSerializer):
    """One task of POST /api/tasks/bulk: as POST /api/tasks, without idempotency keys
    (a batch is inserted in one statement, all or nothing)."""

    def get_fields(self):
        fields = super().get_fields()
        fields.pop("idempotency_key")
        return fields


class BulkCreateSerializer(StrictFields, serializers.Serializer):
    tasks = BulkTaskSerializer(many=True, allow_empty=False,
                               help_text="At most QUEUE_BULK_MAX tasks (default 1000).")

    def to_internal_value(self, data):
        items = data.get("tasks") if isinstance(data, dict) else None
        limit = conf.get("BULK_MAX")
        if isinstance(items, list) and len(items) > limit:
            raise serializers.ValidationError(
                {"tasks": [f"{len(items)} tasks sent; at most {limit} are accepted per request."]}
            )
        return super().to_internal_value(data)


class BulkCreatedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="In the order of the request.")


def _check(message, value):
    if message:
        raise serializers.ValidationError(message)
    return value
