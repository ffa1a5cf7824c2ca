"""Workflow and batch endpoints: POST/GET /api/workflows, /api/batches, and their
cancel (and a batch's tasks and close). Nodes and batch tasks are validated as
POST /api/tasks bodies are; tasks.queue.workflows and .batches change state."""

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks import conf
from tasks.access import Scope
from tasks.api.auditing import audited
from tasks.api.errors import Conflict
from tasks.api.serializers import BulkTaskSerializer, StrictFields
from tasks.models import Batch, Task, Workflow
from tasks.models.workflow import workflow_json
from tasks.queue import backpressure
from tasks.queue.batches import add_to_batch, cancel_batch, close_batch, open_batch
from tasks.queue.workflows import NODE_NAME_MAX, Step, cancel_workflow, check_graph, insert_workflow
from tasks.queue.workflows import Node as WorkflowNode
from tasks.queue.workflows import Workflow as WorkflowBuilder


class NodeSerializer(BulkTaskSerializer):
    """One node: a task as POST /api/tasks takes it, plus its name and dependencies (by name)."""

    name = serializers.CharField(max_length=NODE_NAME_MAX)
    deps = serializers.ListField(child=serializers.CharField(max_length=NODE_NAME_MAX), required=False, default=list)
    ignore_failed = serializers.ListField(child=serializers.CharField(max_length=NODE_NAME_MAX), required=False,
                                          default=list, help_text="Dependencies whose failure does not cancel it.")


class WorkflowCreateSerializer(StrictFields, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    nodes = NodeSerializer(many=True, allow_empty=False)

    def validate_nodes(self, nodes):
        if len(nodes) > conf.get("BULK_MAX"):
            raise serializers.ValidationError(f"At most {conf.get('BULK_MAX')} nodes are accepted per request.")
        names = [node["name"] for node in nodes]
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise serializers.ValidationError(f"Node names must be unique; repeated: {', '.join(twice)}.")
        for node in nodes:
            for dep in node["deps"]:
                if dep not in names and _is_task_id(dep):
                    raise serializers.ValidationError({node["name"]: {"deps": [
                        f"Task {dep} is not a node of this workflow; a node may depend only on nodes of its own "
                        f"workflow, by name."]}})
            if node["task"].unique_key is not None:
                raise serializers.ValidationError({node["name"]: {"type": [
                    "A unique task type cannot be a workflow node; its key could refuse one node of the graph."]}})
        try:
            check_graph({node["name"]: (node["deps"], set(node["ignore_failed"])) for node in nodes})
        except DjangoValidationError as exc:
            fields = {key.removeprefix("nodes."): value for key, value in exc.message_dict.items()}
            raise serializers.ValidationError(fields) from None
        return nodes


class BatchTasksSerializer(StrictFields, serializers.Serializer):
    tasks = BulkTaskSerializer(many=True, allow_empty=True)

    def validate_tasks(self, tasks):
        if len(tasks) > conf.get("BULK_MAX"):
            raise serializers.ValidationError(f"At most {conf.get('BULK_MAX')} tasks are accepted per request.")
        return tasks


class BatchCreateSerializer(BatchTasksSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    tasks = BulkTaskSerializer(many=True, required=False, default=list)
    close = serializers.BooleanField(required=False, default=True,
                                     help_text="False: keep it open for POST /api/batches/{id}/tasks, then close.")
    on_success = BulkTaskSerializer(required=False, allow_null=True, default=None)
    on_failure = BulkTaskSerializer(required=False, allow_null=True, default=None)
    on_complete = BulkTaskSerializer(required=False, allow_null=True, default=None)


# Answers are built as dicts (a workflow's nodes, a batch's counts): documented as objects.
OBJECT = {200: OpenApiTypes.OBJECT}


class WorkflowViewSet(viewsets.GenericViewSet):
    queryset = Workflow.objects.all()
    serializer_class = WorkflowCreateSerializer

    @extend_schema(request=WorkflowCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        """Create a workflow: every node and edge in one transaction."""
        data = _valid(WorkflowCreateSerializer, request.data)
        backpressure.check(node["task"].queue for node in data["nodes"])
        builder = WorkflowBuilder(data["name"])
        nodes = [WorkflowNode(node["name"], Step(node["task"]), node["deps"], set(node["ignore_failed"]), node["task"])
                 for node in data["nodes"]]
        row = insert_workflow(builder.name, nodes, nodes[0].task.created_at)
        return Response(workflow_json(row), status=status.HTTP_201_CREATED)

    @extend_schema(responses=OBJECT, operation_id="workflows_list")
    def list(self, request):
        """The newest workflows (at most 100), with their tasks' counts by status."""
        rows = list(Workflow.objects.order_by("-id")[:100])
        counts = _counts("workflow_id", [row.id for row in rows])
        return Response({"results": [{**row.head(), "counts": counts.get(row.id, {})} for row in rows]})

    @extend_schema(responses=OBJECT)
    def retrieve(self, request, pk=None):
        """The workflow with every node's status, dependencies and result."""
        return Response(workflow_json(_get(Workflow, pk)))

    @extend_schema(request=None, responses=OBJECT)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel every node that has not started (running ones finish)."""
        row = _get(Workflow, pk)
        cancelled = cancel_workflow(row.id)
        audited(request, "workflow.cancel", f"workflow {row.id}", cancelled)
        return Response({"cancelled": cancelled, **workflow_json(row)})


class BatchViewSet(viewsets.GenericViewSet):
    queryset = Batch.objects.all()
    serializer_class = BatchCreateSerializer
    # Adding tasks and closing are the producer's steps (tasks/api/permissions.py).
    required_scopes = {"tasks": Scope.ENQUEUE, "close": Scope.ENQUEUE}

    @extend_schema(request=BatchCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        """Create a batch with its callbacks and first tasks; closed unless `close` is false."""
        data = _valid(BatchCreateSerializer, request.data)
        backpressure.check(task["task"].queue for task in data["tasks"])
        callbacks = {key: Step(data[key]["task"]) for key in ("on_success", "on_failure", "on_complete")
                     if data[key] is not None}
        with transaction.atomic():
            row = open_batch(data["name"], **callbacks)
            add_to_batch(row.id, [Step(task["task"]) for task in data["tasks"]])
            if data["close"]:
                close_batch(row.id)
        row.refresh_from_db()
        return Response(row.as_json(), status=status.HTTP_201_CREATED)

    @extend_schema(responses=OBJECT, operation_id="batches_list")
    def list(self, request):
        return Response({"results": [row.as_json() for row in Batch.objects.order_by("-id")[:100]]})

    @extend_schema(responses=OBJECT)
    def retrieve(self, request, pk=None):
        return Response(_get(Batch, pk).as_json())

    @extend_schema(request=BatchTasksSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def tasks(self, request, pk=None):
        """Add tasks to an open batch (409 once it is closed)."""
        row = _get(Batch, pk)
        data = _valid(BatchTasksSerializer, request.data)
        backpressure.check(task["task"].queue for task in data["tasks"])
        try:
            tasks = add_to_batch(row.id, [Step(task["task"]) for task in data["tasks"]])
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response({"count": len(tasks), "ids": [str(task.id) for task in tasks]}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=OBJECT)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Take no more tasks; the batch finishes (and its callbacks run) once its tasks have."""
        row = _get(Batch, pk)
        close_batch(row.id)
        row.refresh_from_db()
        return Response(row.as_json())

    @extend_schema(request=None, responses=OBJECT)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Close the batch and cancel its callbacks and every task not started."""
        row = _get(Batch, pk)
        count = cancel_batch(row.id)
        audited(request, "batch.cancel", f"batch {row.id}", count)
        row.refresh_from_db()
        return Response({"cancelled": count, **row.as_json()})


def _counts(column: str, ids: list) -> dict:
    counts: dict = {}
    rows = Task.objects.filter(**{f"{column}__in": ids}).values(column, "status").annotate(n=Count("id"))
    for item in rows:
        counts.setdefault(item[column], {})[item["status"]] = item["n"]
    return counts


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _get(model, pk):
    if not _is_task_id(pk):
        raise Http404
    row = model.objects.filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


def _is_task_id(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
