"""Operators' endpoints: workers, queues and dead letters.

Reading needs the read scope; pausing, resuming, purging and bulk actions on
dead letters need operate; queue limits need admin (tasks/api/permissions.py).
"""

from django.utils import timezone
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from tasks import queue
from tasks.api.auditing import audited
from tasks.api.errors import Conflict
from tasks.api.filters import (
    CreationOrder,
    DeadLetterFilter,
    FilterBackend,
    OrderedSearch,
    WorkerFilter,
    known_parameters,
    refuse_unknown_parameters,
)
from tasks.api.operator_serializers import (
    DeadLettersDeletedSerializer,
    DeadLettersRetriedSerializer,
    PurgedSerializer,
    QueueLimitSerializer,
    QueueSerializer,
    WorkerDetailSerializer,
    WorkerSerializer,
)
from tasks.api.permissions import HasScope
from tasks.api.serializers import TaskSerializer
from tasks.models import Queue, Task, Worker, WorkerState
from tasks.queue import ordering
from tasks.telemetry import summary
from tasks.validation import queue_error


class WorkerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Worker.objects.all()
    serializer_class = WorkerSerializer
    permission_classes = [HasScope]
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
        changed = change(worker)
        if not changed:
            worker.refresh_from_db()
            if worker.state != wanted:  # pausing a paused worker is not an error; pausing a stopped one is
                raise Conflict(f"Worker {worker.id} is {worker.state}; it cannot be made {wanted}.")
        verb = "pause" if wanted == WorkerState.PAUSED else "resume"
        audited(self.request, f"worker.{verb}", f"worker {worker}", int(bool(changed)))
        return Response(WorkerSerializer(worker).data)


class QueueViewSet(viewsets.GenericViewSet):
    """Queues exist as soon as a task names them; a row holds their pause flag and limit.
    One rule for every verb: a name with neither a task nor a row is a 404 (a typo
    must not create a queue, paused, that no task will ever use)."""

    serializer_class = QueueSerializer
    # The rows; OPTIONS (DRF's metadata for PUT/PATCH) looks a queue up through it.
    queryset = Queue.objects.all()
    permission_classes = [HasScope]
    lookup_field = "name"
    # Any segment: a name that is not a queue name is a 400 saying why (as when creating a task), not a bare 404.
    lookup_value_regex = "[^/]+"
    pagination_class = None

    def list(self, request):
        """Every queue that has tasks or settings, with its depth per status."""
        refuse_unknown_parameters(request, known_parameters(self))
        return Response([queue.as_json() for queue in summary.queues(timezone.now())])

    def retrieve(self, request, name=None):
        return Response(self._summary(name, must_exist=True))

    @extend_schema(request=QueueLimitSerializer, responses={201: QueueSerializer, 200: QueueSerializer})
    def update(self, request, name=None):
        """Declare the queue (its row), so that it can be paused or limited before any task
        names it: 201 when it is new, 200 when it existed. The body may set max_pending."""
        if message := queue_error(name):
            raise ValidationError({"name": [message]})
        body = QueueLimitSerializer(data=request.data, partial=True)  # no body: {}; a JSON null: a 400
        body.is_valid(raise_exception=True)
        _, created = Queue.objects.update_or_create(name=name, defaults=body.validated_data)
        audited(request, "queue.declare", f"queue {name}", 1, settings=_as_text(body.validated_data))
        return Response(self._summary(name), status=201 if created else 200)

    @extend_schema(request=QueueLimitSerializer, responses=QueueSerializer)
    def partial_update(self, request, name=None):
        """Set the queue's backpressure limit: max_pending (null: QUEUE_MAX_PENDING; 0: none),
        and its flow control (docs/flow-control.md): max_running, partition_by,
        partition_max_running, rate_limit, partition_rate_limit, rate_period, ordered; workers
        apply it within a second."""
        self._summary(name, must_exist=True)
        body = QueueLimitSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if body.validated_data:
            Queue.objects.update_or_create(name=name, defaults=body.validated_data)
            ordering.forget()
            audited(request, "queue.change", f"queue {name}", 1, settings=_as_text(body.validated_data))
        return Response(self._summary(name))

    @extend_schema(request=None, responses=QueueSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, name=None):
        """Workers stop claiming from this queue; tasks can still be created."""
        self._summary(name, must_exist=True)
        Queue.pause(name)
        audited(request, "queue.pause", f"queue {name}", 1)
        return Response(self._summary(name))

    @extend_schema(request=None, responses=QueueSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, name=None):
        self._summary(name, must_exist=True)
        Queue.resume(name)
        audited(request, "queue.resume", f"queue {name}", 1)
        return Response(self._summary(name))

    @extend_schema(request=None, responses=PurgedSerializer)
    @action(detail=True, methods=["post"])
    def purge(self, request, name=None):
        """Cancel every scheduled and pending task of the queue (the rows stay, as history)."""
        self._summary(name, must_exist=True)
        cancelled = queue.purge(name)
        audited(request, "queue.purge", f"queue {name}", cancelled)
        return Response({"queue": name, "cancelled": cancelled})

    def _summary(self, name: str, must_exist: bool = False) -> dict:
        if message := queue_error(name):
            raise ValidationError({"name": [message]})
        found = summary.queue(name, timezone.now())
        if must_exist and not found.exists:
            raise NotFound(f"No queue named {name!r} has tasks or settings.")
        return found.as_json()


EVERY_DEAD_LETTER = OpenApiParameter(
    "all", OpenApiTypes.BOOL, description="true: act on every dead letter. Needed when no filter is given, "
                                          "so that a forgotten or misspelt filter never empties the set.",
)
ALL_REQUIRED = "Give a filter (queue, type, ...) or all=true to act on every dead letter."


def dead_letters_to_change(view) -> QuerySet:
    """The dead letters a bulk action applies to: those its filters match, or
    every one with an explicit all=true, never every one by default."""
    request = view.request
    # A route whose path names the whole set (/admin/dlq, tasks/api/compat.py) implies all=true.
    everything = request.query_params.get("all", "true" if getattr(view, "implied_all", False) else None)
    if everything not in (None, "true", "false"):
        raise ValidationError({"all": ["Use all=true, or leave the parameter out."]})
    if everything != "true" and DeadLetterFilter.base_filters.keys().isdisjoint(request.query_params):
        refuse_unknown_parameters(request, known_parameters(view, DeadLetterFilter))  # a typo is named as such
        raise ValidationError({"all": [ALL_REQUIRED]})
    return view.filter_queryset(view.get_queryset())


class DeadLetterList(OrderedSearch, generics.ListAPIView):
    """Failed tasks: the dead letters. Filters as for /api/tasks (without status)."""

    queryset = Task.objects.dead_letters()
    serializer_class = TaskSerializer
    permission_classes = [HasScope]
    filter_backends = [FilterBackend, CreationOrder]
    filterset_class = DeadLetterFilter
    filters_every_method = True  # tasks/api/schema.py: document the filters on DELETE

    @property
    def extra_parameters(self) -> tuple[str, ...]:
        return ("all",) if self.request.method == "DELETE" else ()

    @extend_schema(parameters=[EVERY_DEAD_LETTER], responses={200: DeadLettersDeletedSerializer})
    def delete(self, request):
        """Delete the dead letters that match the filters (every one: all=true)."""
        deleted = queue.delete_dead_letters(dead_letters_to_change(self))
        audited(request, "dead_letters.delete", "dead letters", deleted)
        return Response({"deleted": deleted})


class DeadLetterRetry(generics.GenericAPIView):
    queryset = Task.objects.dead_letters()
    serializer_class = DeadLettersRetriedSerializer
    permission_classes = [HasScope]
    filter_backends = [FilterBackend]
    filterset_class = DeadLetterFilter
    extra_parameters = ("all",)
    filters_every_method = True  # tasks/api/schema.py: document the filters on POST

    @extend_schema(request=None, parameters=[EVERY_DEAD_LETTER], responses=DeadLettersRetriedSerializer)
    def post(self, request):
        """Put the dead letters that match the filters back to pending (every one: all=true)."""
        retried = queue.retry(dead_letters_to_change(self))
        audited(request, "dead_letters.retry", "dead letters", retried)
        return Response({"retried": retried})


def _as_text(values: dict) -> dict:
    """Settings as the audit entry's JSON keeps them."""
    return {key: value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
            for key, value in values.items()}
