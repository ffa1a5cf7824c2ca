"""Routes for clients written against the reference documents (002, 003, 004).

Thin: the same views, serializers and queue operations as /api/...; only the
paths and a few field names differ (tasks/api/compat_urls.py maps each path):

- 003 (`/api/v1/tasks`, `/admin/...`): `scheduled_at` is `scheduled_for`, in
  requests and answers; `metadata` and `timeout` are ordinary task fields;
  `DELETE /admin/queues/{priority}` cancels the waiting tasks of one priority
  level (low 0, normal 1, high 2, critical 3); `/admin/dlq` clears and retries
  every dead letter (the route names the whole set, so no `all=true`).
- 002 (`/api/queue/...`): the body is the email (or image) itself plus the
  task options; `queue` may be `critical`, `default` or `low` (or any name).
- 004 (`/api/tasks/status/{id}`, `/all`, `/stats`): plain aliases.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks import queue
from tasks.api import monitoring
from tasks.api.auditing import audited
from tasks.api.filters import ALWAYS_KNOWN, refuse_unknown_parameters
from tasks.api.operators import DeadLetterList, DeadLetterRetry
from tasks.api.permissions import StaffWrites
from tasks.api.serializers import TaskSerializer
from tasks.api.views import TaskViewSet
from tasks.handlers import image
from tasks.handlers.builtin import EMAIL_FIELDS
from tasks.models import Task
from tasks.telemetry import counters

# Document 003's names of the request fields that differ from ours.
V1_ALIASES = {"scheduled_at": "scheduled_for"}
# Document 003's priority levels, by name (its numbers 0..3 are ours as they are).
PRIORITY_LEVELS = {"low": 0, "normal": 1, "high": 2, "critical": 3}
# What document 002's endpoints accept besides the email or image itself.
TASK_OPTIONS = {"queue", "priority", "max_retries", "timeout", "webhook", "metadata", "idempotency_key"}


def renamed(data, aliases: dict[str, str]):
    """`data` with each alias replaced by our field name; both at once is a 400."""
    if not isinstance(data, dict) or aliases.keys().isdisjoint(data):
        return data
    data = dict(data)
    for alias, name in aliases.items():
        if alias in data:
            if name in data:
                raise ValidationError({alias: [f"Give {alias} or {name}, not both."]})
            data[name] = data.pop(alias)
    return data


class V1TaskSerializer(TaskSerializer):
    """A task as document 003 reads it: ours, plus `scheduled_at` and `state` (its
    name for `status`; the words are ours: pending, processing, completed...)."""

    scheduled_at = serializers.DateTimeField(source="run_at", read_only=True)
    state = serializers.CharField(source="status", read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "scheduled_at", "state"]
        read_only_fields = fields

    def to_representation(self, instance: Task) -> dict:
        body = super().to_representation(instance)
        body["scheduled_at"], body["state"] = body["scheduled_for"], body["status"]
        return body


class V1TaskViewSet(TaskViewSet):
    """Document 003's /api/v1/tasks: create, read, cancel; the list is the queue depths."""

    serializer_class = V1TaskSerializer

    def create_body(self, request):
        return renamed(super().create_body(request), V1_ALIASES)

    def create(self, request, *args, **kwargs):
        try:
            return super().create(request, *args, **kwargs)
        except ValidationError as exc:
            # Name the field as the client wrote it.
            if isinstance(exc.detail, dict) and isinstance(request.data, dict) and "scheduled_at" in request.data:
                exc.detail = {{"scheduled_for": "scheduled_at"}.get(k, k): v for k, v in exc.detail.items()}
            raise

    @extend_schema(responses=inline_serializer("QueueDepths", {
        "queues": serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
        "pending": serializers.IntegerField(), "scheduled": serializers.IntegerField(),
    }), operation_id="v1_tasks_depths")
    def depths(self, request, *args, **kwargs):
        """Queue depths: tasks per status in each queue, and the pending and scheduled totals."""
        refuse_unknown_parameters(request, ALWAYS_KNOWN)
        depths = counters.counts()
        return Response({
            "queues": depths,
            "pending": sum(q.get("pending", 0) for q in depths.values()),
            "scheduled": sum(q.get("scheduled", 0) for q in depths.values()),
        })


class EmailTaskViewSet(TaskViewSet):
    """Document 002's POST /api/queue/email: the email's fields plus the task options."""

    delayed = False
    payload_fields = EMAIL_FIELDS
    task_type = "email"

    @extend_schema(request=inline_serializer("QueueEmailRequest", {
        "to": serializers.CharField(), "subject": serializers.CharField(required=False),
        "body": serializers.CharField(required=False),
        "queue": serializers.CharField(required=False, help_text="critical, default or low (or any queue name)."),
        "delay": serializers.FloatField(required=False, help_text="Seconds from now (the /delayed route)."),
        "process_at": serializers.DateTimeField(required=False, help_text="When to run (the /delayed route)."),
    }), responses={201: TaskSerializer, 200: TaskSerializer})
    def create(self, request, *args, **kwargs):
        """Create a task of this route's type from the body's fields."""
        try:
            return super().create(request, *args, **kwargs)
        except ValidationError as exc:
            # The time came as process_at: name it so.
            if self.delayed and isinstance(exc.detail, dict) and "scheduled_for" in exc.detail:
                exc.detail = {{"scheduled_for": "process_at"}.get(k, k): v for k, v in exc.detail.items()}
            raise

    def create_body(self, request):
        data = super().create_body(request)
        if not isinstance(data, dict):
            return data
        payload = {k: v for k, v in data.items() if k in self.payload_fields}
        body = {k: v for k, v in data.items() if k not in self.payload_fields}
        body.update(type=self.task_type, payload=payload)
        if self.delayed:
            body["scheduled_for"] = _delayed_until(body.pop("delay", None), body.pop("process_at", None))
        return body


class DelayedEmailTaskViewSet(EmailTaskViewSet):
    delayed = True


class ImageTaskViewSet(EmailTaskViewSet):
    """Document 002's POST /api/queue/image: source, output, width, height (see the image type)."""

    payload_fields = image.FIELDS
    task_type = "image"


def _delayed_until(delay, process_at) -> str:
    """scheduled_for from document 002's `delay` (seconds) or `process_at` (a time)."""
    if (delay is None) == (process_at is None):
        raise ValidationError({"delay": ["Give delay (seconds from now) or process_at (ISO 8601), one of them."]})
    if process_at is not None:
        return process_at  # checked as scheduled_for is
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 < delay <= 366 * 86400:
        raise ValidationError({"delay": ["A number of seconds, above 0 and at most a year."]})
    return (timezone.now() + timedelta(seconds=delay)).isoformat()


class ClearDeadLetters(DeadLetterList):
    """Document 003's /admin/dlq: GET lists, DELETE clears every dead letter."""

    implied_all = True


class RetryDeadLetters(DeadLetterRetry):
    """Document 003's POST /admin/dlq/retry: every dead letter back to pending."""

    implied_all = True


class PurgePriority(APIView):
    """Document 003's DELETE /admin/queues/{priority}: cancel the scheduled and
    pending tasks of one priority level, in every queue (the rows stay)."""

    permission_classes = [StaffWrites]

    @extend_schema(request=None, responses=inline_serializer("PriorityPurged", {
        "priority": serializers.CharField(), "level": serializers.IntegerField(),
        "cancelled": serializers.IntegerField(),
    }))
    def delete(self, request, priority: str):
        level = _priority_level(priority)
        cancelled = queue.cancel(Task.objects.filter(priority=level))
        audited(request, "tasks.cancel", f"tasks of priority {level}", cancelled)
        return Response({"priority": priority, "level": level, "cancelled": cancelled})


def _priority_level(name: str) -> int:
    if name.lower() in PRIORITY_LEVELS:
        return PRIORITY_LEVELS[name.lower()]
    try:
        level = int(name)
    except ValueError:
        level = None
    if level is None or not -100 <= level <= 100:
        raise ValidationError({"priority": [f"Use {', '.join(PRIORITY_LEVELS)} or a number from -100 to 100."]})
    return level


@extend_schema(exclude=True)
class AdminHealth(APIView):
    """Document 003's GET /admin/health: /api/health, with its word "healthy" for ok."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    def get(self, request):
        code, body = monitoring.shared_health()
        body = {**body, "status": "healthy" if body["status"] == "ok" else body["status"]}
        return Response(body, status=code,
                        headers={"Retry-After": monitoring.HEALTH_RETRY_AFTER} if code == 503 else None)

