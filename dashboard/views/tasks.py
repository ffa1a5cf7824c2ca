"""The task list (filters, search, keyset pages) and one task's page (live while active)."""

from uuid import UUID

from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.access import staff_required
from dashboard.forms import TaskFilterForm
from dashboard.paging import paginate
from dashboard.rendering import render_live
from tasks.models import ACTIVE_STATUSES, DeliveryStatus, Queue, Task, Worker
from tasks.telemetry import counters


@staff_required
def task_list(request):
    queues = sorted(set(counters.counts()) | set(Queue.objects.values_list("name", flat=True)))
    form = TaskFilterForm(request.GET or None, queues=queues)
    tasks = Task.objects.filter(**form.filters())
    if form.search:
        tasks = search(tasks, form.search)
    page = paginate(tasks.defer("result", "errors", "payload"), request.GET)
    return render(request, "dashboard/tasks.html", {
        "form": form, "page": page, "now": timezone.now(), "filtered": bool(request.GET.get("q") or form.filters()),
    })


def search(tasks, text: str):
    """A task id finds that task; other text matches type, queue, the last error,
    the webhook URL or the payload's JSON text. The scan walks ids newest first and
    stops at a page of matches, so common words answer at once and rare ones read
    further."""
    try:
        return tasks.filter(id=UUID(text))
    except ValueError:
        pass
    return tasks.filter(
        Q(type=text) | Q(queue=text) | Q(last_error__icontains=text)
        | Q(webhook__icontains=text) | Q(payload__icontains=text)
    )


@staff_required
def task_detail(request, pk):
    task = get_object_or_404(Task, pk=pk)
    deliveries = list(task.deliveries.order_by("id"))
    context = {
        "task": task,
        "now": timezone.now(),
        "worker": Worker.objects.filter(pk=task.worker_id).first() if task.worker_id else None,
        "deliveries": deliveries,
        "attempts": attempts(task),
        # Keep refreshing while something can still change.
        "live": task.status in ACTIVE_STATUSES or any(d.status == DeliveryStatus.PENDING for d in deliveries),
    }
    return render_live(request, "dashboard/task_detail.html", context)


def attempts(task: Task) -> list[dict]:
    """Every attempt: the failed ones from `errors`, then the current one's outcome."""
    rows = [{**error, "failed": True, "at": parse_datetime(error.get("at") or "")} for error in task.errors]
    recorded = {row.get("attempt") for row in rows}
    if task.attempt and task.attempt not in recorded:
        rows.append({"attempt": task.attempt, "failed": False, "outcome": task.status,
                     "worker": task.worker_id, "at": task.completed_at or task.started_at})
    return rows
