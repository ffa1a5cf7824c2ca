"""Task JSON, as in the reference API, and validation of new tasks."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from tasks import queue, validation
from tasks.models import Task


class TaskSerializer(serializers.ModelSerializer):
    """A task as GET /api/tasks/{id} returns it (and as webhooks receive it)."""

    scheduled_for = serializers.DateTimeField(source="run_at", read_only=True)
    error = serializers.CharField(source="last_error", read_only=True)

    class Meta:
        model = Task
        fields = [
            "id", "type", "payload", "status", "priority", "queue", "max_retries", "retry_count",
            "attempt", "scheduled_for", "timeout", "webhook", "result", "error", "progress",
            "progress_message", "worker_id", "created_at", "updated_at", "started_at", "completed_at",
        ]
        read_only_fields = fields


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


class TaskCreateSerializer(serializers.Serializer):
    """The body of POST /api/tasks. Only registered types are accepted."""

    type = serializers.CharField(max_length=100)
    payload = serializers.JSONField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, default=0)
    max_retries = serializers.IntegerField(required=False, allow_null=True, default=None)
    scheduled_for = AwareDateTimeField(required=False, allow_null=True, default=None)
    webhook = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    queue = serializers.CharField(required=False, default="default", max_length=100)
    timeout = serializers.FloatField(required=False, allow_null=True, default=None)

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

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        try:
            attrs["task"] = queue.build(
                attrs["type"], attrs["payload"], queue=attrs["queue"], priority=attrs["priority"],
                run_at=attrs["scheduled_for"], max_retries=attrs["max_retries"],
                timeout=attrs["timeout"], webhook=attrs["webhook"],
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def create(self, validated_data):
        task = validated_data["task"]
        task.save(force_insert=True)
        return task


def _check(message, value):
    if message:
        raise serializers.ValidationError(message)
    return value
