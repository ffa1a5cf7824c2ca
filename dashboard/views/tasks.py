"""The task list (filters, search, sortable state-aware columns, bulk actions, live)
and one task's page (live while it can change)."""

from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.access import reader
from dashboard.filters import select
from dashboard import listing
from dashboard.listing import STATE_LABELS, count, paginate, sort_links
from dashboard.rendering import render_live
from tasks import conf
from tasks.models import ACTIVE_STATUSES, Dependency, DeliveryStatus, Task, Worker


BULK_CHOICES = [("retry", "Retry"), ("cancel", "Cancel"), ("run_now", "Run now"), ("delete", "Delete dead letters")]


@reader
def task_list(request):
    return render_live(request, "dashboard/tasks.html", list_context(request))


def list_context(request, *, fixed_status: str = "") -> dict:
    """What the task list and the dead letters show for the request's filters."""
    form, selection = select(request.GET, fixed_status=fixed_status)
    page = paginate(selection.walk.defer("result", "errors", "payload"), selection.filters, selection.order,
                    request.GET)
    return {
        "form": form, "page": page, "now": timezone.now(), "selection": selection,
        "count": count(selection.tasks, status=selection.status, queue=selection.queue,
                       uncounted=selection.uncounted, page=page),
        "sorts": sort_links(request.GET, selection.order, selection.status),
        "state_label": STATE_LABELS.get(selection.status, "State"), "budget": listing.SCAN_BUDGET,
        "bulk_actions": BULK_CHOICES if not fixed_status else [("retry", "Retry"), ("delete", "Delete")],
        "filtered": bool(selection.described),
        "filter_fields": [(k, request.GET[k]) for k in ("q", "status", "type", "queue", "priority")
                          if request.GET.get(k)],
    }


@reader
def task_detail(request, pk):
    task = Task.objects.filter(pk=pk).first()
    if task is None:
        days = conf.get("RETENTION") / 86400
        raise Http404(f"No task has the id {pk}. It may have been deleted, or pruned: finished tasks are kept "
                      f"{days:g} days (failed ones {conf.get('FAILED_RETENTION') / 86400:g}).")
    deliveries = list(task.deliveries.order_by("id"))
    context = {
        "task": task,
        "now": timezone.now(),
        "worker": Worker.objects.filter(pk=task.worker_id).first() if task.worker_id else None,
        "deliveries": deliveries,
        "attempts": attempts(task),
        **relatives(task),
        # Keep refreshing while something can still change.
        "live": task.status in ACTIVE_STATUSES or any(d.status == DeliveryStatus.PENDING for d in deliveries),
    }
    return render_live(request, "dashboard/task_detail.html", context)


def relatives(task: Task) -> dict:
    """A workflow task's dependencies and dependents (no query for other tasks)."""
    if task.workflow_id is None:
        return {}
    fields = ("id", "node", "type", "status")
    return {
        "dependencies": [(d.depends_on, d.ignore_failed) for d in Dependency.objects.filter(task=task)
                         .select_related("depends_on").only("ignore_failed", *(f"depends_on__{f}" for f in fields))],
        "dependents": [d.task for d in Dependency.objects.filter(depends_on=task).select_related("task")
                       .only("task_id", *(f"task__{f}" for f in fields))],
    }


def attempts(task: Task) -> list[dict]:
    """Every attempt: the failed ones from `errors`, then the current one's outcome."""
    rows = [{**error, "failed": True, "at": parse_datetime(error.get("at") or "")} for error in task.errors]
    recorded = {row.get("attempt") for row in rows}
    if task.attempt and task.attempt not in recorded:
        rows.append({"attempt": task.attempt, "failed": False, "outcome": task.status,
                     "worker": task.worker_id, "at": task.completed_at or task.started_at})
    return rows
