"""Task endpoints: create (one, idempotent, or a batch), list, read, details,
retry, cancel. Views are thin: serializers validate, tasks.queue changes state."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks import queue
from tasks.api import intake, lookups
from tasks.api.auditing import audited
from tasks.api.details import TaskDetailSerializer
from tasks.api.errors import Conflict
from tasks.api.filters import (
    ALWAYS_KNOWN,
    CreationOrder,
    FilterBackend,
    OrderedSearch,
    TaskFilter,
    refuse_unknown_parameters,
)
from tasks.api.serializers import BulkCreatedSerializer, BulkCreateSerializer, TaskCreateSerializer, TaskSerializer
from tasks.models import Task
from tasks.models.task_ids import short_id
from tasks.queue import backpressure

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Same as the idempotency_key field: a repeat returns the first task (200).",
)
RETRYING = inline_serializer("Retrying", {
    "status": serializers.ChoiceField(choices=["retrying"]), "task_id": serializers.UUIDField(),
})


def validated(serializer_class, data) -> dict:
    """What the serializer makes of `data`; its errors are the 400 (used when intake.py declines)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TaskViewSet(OrderedSearch, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filter_backends = [FilterBackend, CreationOrder]
    filterset_class = TaskFilter

    def get_object(self) -> Task:
        # Every detail route looks a task up by id: prepared (see lookups.py), same 404s.
        task = lookups.task_by_id(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if task is None:
            raise Http404
        self.check_object_permissions(self.request, task)
        return task

    @extend_schema(request=TaskCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: TaskSerializer, 200: TaskSerializer})
    def create(self, request, *args, **kwargs):
        """Create a task. With an idempotency key, a repeat returns the first task with 200."""
        data = self.create_body(request)
        task = intake.new_task(data) or validated(TaskCreateSerializer, data)["task"]
        if task.idempotency_key and (existing := Task.objects.filter(idempotency_key=task.idempotency_key).first()):
            return self._replayed(existing)
        backpressure.check([task.queue])
        task, created = queue.insert(task)
        if not created:
            return self._replayed(task)
        return Response(self.serializer_class(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BulkCreateSerializer, responses={201: BulkCreatedSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Create up to QUEUE_BULK_MAX tasks in one statement, all or nothing."""
        if request.query_params:
            refuse_unknown_parameters(request, ALWAYS_KNOWN)
        tasks = intake.new_tasks(request.data)
        if tasks is None:
            tasks = [item["task"] for item in validated(BulkCreateSerializer, request.data)["tasks"]]
        backpressure.check(task.queue for task in tasks)
        tasks = queue.enqueue_many(tasks)  # a unique type's duplicate answers with the task holding its key
        ids = [str(task.id) for task in tasks]  # as text: orjson writes only uuid.UUID itself, not uuid7's subclass
        return Response({"count": len(tasks), "ids": ids}, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TaskDetailSerializer)
    @action(detail=True, methods=["get"])
    def details(self, request, pk=None):
        """The task with every attempt's error and traceback, timings, workers and webhook deliveries."""
        task = self.get_object()
        return Response(TaskDetailSerializer(task).data)

    @extend_schema(request=None, responses={200: RETRYING})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Put a failed or cancelled task back to pending, with a fresh set of retries."""
        task = self.get_object()
        if not queue.retry(task):
            raise self._conflict(task, "retried", "failed or cancelled")
        audited(request, "task.retry", f"task {task.type} {short_id(task.id)}", 1, ids=[task.id])
        return Response({"status": "retrying", "task_id": task.id})

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a scheduled or pending task."""
        return self._cancel()

    @extend_schema(request=None, responses={200: TaskSerializer})
    def destroy(self, request, pk=None):
        """Cancel a scheduled or pending task (the row stays, as history)."""
        return self._cancel()

    def _cancel(self) -> Response:
        task = self.get_object()
        if not queue.cancel(task):
            raise self._conflict(task, "cancelled", "scheduled or pending")
        audited(self.request, "task.cancel", f"task {task.type} {short_id(task.id)}", 1, ids=[task.id])
        task.refresh_from_db()
        return Response(self.serializer_class(task).data)

    @staticmethod
    def _conflict(task: Task, verb: str, allowed: str) -> Conflict:
        task.refresh_from_db(fields=["status"])
        return Conflict(f"Task {task.id} is {task.status}; only {allowed} tasks can be {verb}.")

    def create_body(self, request):
        """The body of a create, with the Idempotency-Key header folded in
        (compatibility routes rename their fields here: tasks/api/compat.py)."""
        header = request.headers.get("Idempotency-Key")
        data = request.data
        if header is None or not isinstance(data, dict):
            return data
        if data.get("idempotency_key") not in (None, header):
            raise serializers.ValidationError(
                {"idempotency_key": ["The Idempotency-Key header and the idempotency_key field differ."]}
            )
        return {**data, "idempotency_key": header}

    def _replayed(self, task: Task) -> Response:
        return Response(self.serializer_class(task).data, status=status.HTTP_200_OK,
                        headers={"Idempotent-Replayed": "true"})
