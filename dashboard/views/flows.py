"""Workflows and batches: the list of both, a workflow's page (its DAG as SVG and
every node's status) and a batch's page (counts, progress, callbacks); cancel,
confirmed and recorded, through tasks.queue."""

from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard import graph
from dashboard.access import reader, require
from dashboard.actions import perform
from dashboard.rendering import render_live
from tasks.models import Batch, Task, Workflow
from tasks.models.workflow import workflow_json, workflow_status
from tasks.queue.batches import cancel_batch
from tasks.queue.workflows import cancel_workflow


TABLE_MAX = 500  # nodes listed on a workflow's page; GET /api/workflows/{id} has them all


@reader
def flow_list(request):
    workflows = list(Workflow.objects.order_by("-id")[:50])
    counts: dict = {}
    # Counted by the database (the partial index on workflow_id), not row by row here.
    rows = (Task.objects.filter(workflow_id__in=[w.id for w in workflows]).order_by()
            .values_list("workflow_id", "status").annotate(n=Count("id")))
    for workflow_id, status, n in rows:
        counts.setdefault(workflow_id, {})[status] = n
    context = {
        "workflows": [(w, workflow_status(counts.get(w.id, {})), sum(counts.get(w.id, {}).values()))
                      for w in workflows],
        "batches": Batch.objects.order_by("-id")[:50], "now": timezone.now(),
    }
    return render_live(request, "dashboard/flows.html", context)


@reader
def workflow_detail(request, pk):
    row = get_object_or_404(Workflow, pk=pk)
    data = workflow_json(row)
    context = {"workflow": row, "data": data, "svg": graph.svg(data["nodes"]), "too_big": graph.MAX_NODES,
               "shown": data["nodes"][:TABLE_MAX], "hidden": max(0, len(data["nodes"]) - TABLE_MAX),
               "live": data["status"] == "running", "now": timezone.now()}
    return render_live(request, "dashboard/workflow.html", context)


@reader
def batch_detail(request, pk):
    row = get_object_or_404(Batch, pk=pk)
    callbacks = {t.id: t for t in Task.objects.filter(pk__in=[row.on_success, row.on_failure, row.on_complete])}
    context = {"batch": row, "live": row.finished_at is None, "now": timezone.now(),
               "callbacks": [(name, callbacks.get(getattr(row, name))) for name in ("on_success", "on_failure",
                                                                                   "on_complete")]}
    return render_live(request, "dashboard/batch.html", context)


@require("task")
@require_POST
def workflow_cancel(request, pk):
    row = get_object_or_404(Workflow, pk=pk)

    def do():
        count = cancel_workflow(row.id)
        return f"Cancelled {count} task(s) of workflow {row.name or row.id}.", count

    return perform(request, action="workflow.cancel", target=f"workflow {row.id}",
                   question=f"Cancel every task of workflow {row.name or row.id} that has not started?", do=do,
                   back=reverse("dashboard:workflow", args=[row.pk]))


@require("task")
@require_POST
def batch_cancel(request, pk):
    row = get_object_or_404(Batch, pk=pk)

    def do():
        count = cancel_batch(row.id)
        return f"Cancelled {count} task(s) of batch {row.name or row.id}, and its callbacks.", count

    return perform(request, action="batch.cancel", target=f"batch {row.id}",
                   question=f"Cancel batch {row.name or row.id}: its tasks not started and its callbacks?", do=do,
                   back=reverse("dashboard:batch", args=[row.pk]))
