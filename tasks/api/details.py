"""GET /api/tasks/{id}/details: the task, plus everything that happened to it."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from tasks.api.serializers import TaskSerializer
from tasks.models import Task, WebhookDelivery

AttemptError = inline_serializer("AttemptError", {
    "attempt": serializers.IntegerField(),
    "worker": serializers.CharField(help_text="Id of the worker that ran the attempt."),
    "at": serializers.DateTimeField(),
    "type": serializers.CharField(help_text="Exception class, with its module."),
    "message": serializers.CharField(),
    "traceback": serializers.CharField(),
}, many=True)

Timings = inline_serializer("Timings", {
    "waited_seconds": serializers.FloatField(allow_null=True, help_text="From scheduled time to the latest start."),
    "ran_seconds": serializers.FloatField(allow_null=True, help_text="From the latest start to completion."),
    "total_seconds": serializers.FloatField(allow_null=True, help_text="From creation to completion."),
})


class DeliverySerializer(serializers.ModelSerializer):
    """A webhook delivery and the log of its attempts (time, status code or error, duration)."""

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "url", "status", "attempts", "response_code", "last_error", "log",
                  "created_at", "next_attempt_at", "delivered_at"]
        read_only_fields = fields


class TaskDetailSerializer(TaskSerializer):
    errors = serializers.SerializerMethodField(help_text="Every failed attempt, oldest first.")
    workers = serializers.SerializerMethodField(help_text="Ids of the workers that ran an attempt, in order.")
    timings = serializers.SerializerMethodField()
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "errors", "workers", "timings", "deliveries"]
        read_only_fields = fields
        list_serializer_class = serializers.ListSerializer

    # Every field, the task's own included, through DRF (TaskSerializer takes a
    # shortcut for the task's fields alone).
    to_representation = serializers.ModelSerializer.to_representation

    @extend_schema_field(AttemptError)
    def get_errors(self, task: Task) -> list:
        return task.errors or []

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_workers(self, task: Task) -> list[str]:
        seen = [entry.get("worker") for entry in task.errors or [] if entry.get("worker")]
        if task.worker_id:
            seen.append(str(task.worker_id))
        return list(dict.fromkeys(seen))

    @extend_schema_field(Timings)
    def get_timings(self, task: Task) -> dict:
        def seconds(start, end):
            return round((end - start).total_seconds(), 6) if start and end else None

        return {
            # Waiting starts when the task became runnable: not at a scheduled_for before its creation.
            "waited_seconds": seconds(max(task.run_at, task.created_at), task.started_at),
            "ran_seconds": seconds(task.started_at, task.completed_at),
            "total_seconds": seconds(task.created_at, task.completed_at),
        }
