"""GET /api/tasks/{id}/details: the task, plus everything that happened to it."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from tasks.api.serializers import TaskSerializer
from tasks.models import Dependency, Task, WebhookDelivery

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

Relative = inline_serializer("WorkflowRelative", {
    "task_id": serializers.UUIDField(),
    "node": serializers.CharField(help_text="Its name in the workflow."),
    "type": serializers.CharField(),
    "status": serializers.CharField(),
    "ignore_failed": serializers.BooleanField(
        help_text="The edge's option: a failed or cancelled dependency does not cancel the dependent."),
}, many=True)

# The other task's columns a dependency or dependent shows.
RELATIVE_FIELDS = ("id", "node", "type", "status")


def relatives(task: Task, side: str) -> list[dict]:
    """The tasks `task` waits for (side "depends_on") or that wait for it (side "task"),
    by creation order; no query for a task outside workflows."""
    if task.workflow_id is None:
        return []
    edges = Dependency.objects.filter(**({"task": task} if side == "depends_on" else {"depends_on": task}))
    columns = (f"{side}__{f}" for f in RELATIVE_FIELDS)
    rows = edges.select_related(side).only("ignore_failed", *columns).order_by(f"{side}_id")
    return [{"task_id": str(other.id), "node": other.node, "type": other.type, "status": other.status,
             "ignore_failed": edge.ignore_failed} for edge in rows for other in [getattr(edge, side)]]


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
    dependencies = serializers.SerializerMethodField(
        help_text="A workflow task's dependencies: the tasks it waits for (empty outside workflows).")
    dependents = serializers.SerializerMethodField(help_text="The workflow's tasks that wait for this one.")

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "errors", "workers", "timings", "deliveries", "dependencies",
                  "dependents"]
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

    @extend_schema_field(Relative)
    def get_dependencies(self, task: Task) -> list[dict]:
        return relatives(task, "depends_on")

    @extend_schema_field(Relative)
    def get_dependents(self, task: Task) -> list[dict]:
        return relatives(task, "task")

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
