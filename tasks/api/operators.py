"""Operators' endpoints: workers, queues and dead letters.

Any token may read; pausing, resuming, purging, queue limits and bulk actions
on dead letters need a staff token (tasks/api/permissions.py).
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from tasks import queue
from tasks.api.errors import Conflict
from tasks.queue import ordering
from tasks.api.filters import CreationOrder, DeadLetterFilter, FilterBackend, OrderedSearch, WorkerFilter
from tasks.api.operator_serializers import (
    DeadLettersDeletedSerializer,
    DeadLettersRetriedSerializer,
    PurgedSerializer,
    QueueLimitSerializer,
    QueueSerializer,
    WorkerDetailSerializer,
    WorkerSerializer,
)
from tasks.api.permissions import StaffWrites
from tasks.api.serializers import TaskSerializer
from tasks.models import Queue, Task, Worker, WorkerState
from tasks.telemetry import summary
from tasks.validation import QUEUE_NAME


class WorkerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Worker.objects.all()
    serializer_class = WorkerSerializer
    permission_classes = [StaffWrites]
    filter_backends = [FilterBackend]
    filterset_class = WorkerFilter

    def get_serializer_class(self):
        return WorkerDetailSerializer if self.action == "retrieve" else WorkerSerializer

    @extend_schema(request=None, responses=WorkerSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop claiming new tasks (running ones finish); honoured within a second."""
        return self._steer(Worker.pause, WorkerState.PAUSED)

    @extend_schema(request=None, responses=WorkerSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Claim tasks again after a pause."""
        return self._steer(Worker.resume, WorkerState.RUNNING)

    def _steer(self, change, wanted: str) -> Response:
        worker = self.get_object()
        if not change(worker):
            worker.refresh_from_db()
            if worker.state != wanted:  # pausing a paused worker is not an error; pausing a stopped one is
                raise Conflict(f"Worker {worker.id} is {worker.state}; it cannot be made {wanted}.")
        return Response(WorkerSerializer(worker).data)


class QueueViewSet(viewsets.GenericViewSet):
    """Queues exist as soon as a task names them; a row holds their pause flag and limit."""

    serializer_class = QueueSerializer
    permission_classes = [StaffWrites]
    lookup_field = "name"
    lookup_value_regex = QUEUE_NAME.pattern.strip("^$")
    pagination_class = None

    def list(self, request):
        """Every queue that has tasks or settings, with its depth per status."""
        return Response([queue.as_json() for queue in summary.queues(timezone.now())])

    def retrieve(self, request, name=None):
        return Response(self._summary(name, must_exist=True))

    @extend_schema(request=QueueLimitSerializer, responses=QueueSerializer)
    def partial_update(self, request, name=None):
        """Set the queue's backpressure limit: max_pending (null: QUEUE_MAX_PENDING; 0: none),
        and its flow control (docs/flow-control.md): max_running, partition_by,
        partition_max_running, rate_limit, partition_rate_limit, rate_period, ordered; workers
        apply it within a second."""
        body = QueueLimitSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if body.validated_data:
            Queue.objects.update_or_create(name=name, defaults=body.validated_data)
            ordering.forget()
        return Response(self._summary(name))

    @extend_schema(request=None, responses=QueueSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, name=None):
        """Workers stop claiming from this queue; tasks can still be created."""
        Queue.pause(name)
        return Response(self._summary(name))

    @extend_schema(request=None, responses=QueueSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, name=None):
        Queue.resume(name)
        return Response(self._summary(name))

    @extend_schema(request=None, responses=PurgedSerializer)
    @action(detail=True, methods=["post"])
    def purge(self, request, name=None):
        """Cancel every scheduled and pending task of the queue (the rows stay, as history)."""
        return Response({"queue": name, "cancelled": queue.purge(name)})

    def _summary(self, name: str, must_exist: bool = False) -> dict:
        found = summary.queue(name, timezone.now())
        if must_exist and not found.exists:
            raise NotFound(f"No queue named {name!r} has tasks or settings.")
        return found.as_json()


class DeadLetterList(OrderedSearch, generics.ListAPIView):
    """Failed tasks: the dead letters. Filters as for /api/tasks (without status)."""

    queryset = Task.objects.dead_letters()
    serializer_class = TaskSerializer
    permission_classes = [StaffWrites]
    filter_backends = [FilterBackend, CreationOrder]
    filterset_class = DeadLetterFilter

    @extend_schema(responses={200: DeadLettersDeletedSerializer})
    def delete(self, request):
        """Delete the dead letters that match the filters (all of them without filters)."""
        return Response({"deleted": queue.delete_dead_letters(self.filter_queryset(self.get_queryset()))})


class DeadLetterRetry(generics.GenericAPIView):
    queryset = Task.objects.dead_letters()
    serializer_class = DeadLettersRetriedSerializer
    permission_classes = [StaffWrites]
    filter_backends = [FilterBackend]
    filterset_class = DeadLetterFilter

    @extend_schema(request=None, responses=DeadLettersRetriedSerializer)
    def post(self, request):
        """Put the dead letters that match the filters back to pending (all of them without filters)."""
        return Response({"retried": queue.retry(self.filter_queryset(self.get_queryset()))})

