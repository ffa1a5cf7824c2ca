"""Dead letters: failed tasks with their last error; retry or delete one, or all."""

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import staff_required
from dashboard.actions import perform, plural
from dashboard.paging import paginate
from tasks import queue
from tasks.models import Task
from tasks.telemetry import counters


def _selected(params):
    """The dead letters of the chosen queue and type, or all of them."""
    tasks = Task.objects.dead_letters()
    for field in ("queue", "type"):
        if params.get(field):
            tasks = tasks.filter(**{field: params[field]})
    return tasks


@staff_required
def dead_letter_list(request):
    page = paginate(_selected(request.GET).defer("result", "payload", "errors"), request.GET)
    failed = sum(statuses.get("failed", 0) for statuses in counters.counts().values())
    return render(request, "dashboard/dead_letters.html", {
        "page": page, "now": timezone.now(), "failed_count": failed,
        "queue": request.GET.get("queue", ""), "type": request.GET.get("type", ""),
    })


def _scope(params) -> str:
    parts = [f"{field} {params[field]}" for field in ("queue", "type") if params.get(field)]
    return f" of {' and '.join(parts)}" if parts else ""


def _all(question: str, change, verb: str):
    @staff_required
    @require_POST
    def view(request):
        scope = _scope(request.POST)
        return perform(
            request, question=question.format(scope=scope),
            do=lambda: f"{plural(change(_selected(request.POST)), 'dead letter')}{scope} {verb}.",
            back=reverse("dashboard:dead_letters"),
        )

    return view


retry_all = _all("Retry every dead letter{scope}? They go back to pending.", queue.retry, "retried")
delete_all = _all("Delete every dead letter{scope}? Their payloads and errors are lost.",
                  queue.delete_dead_letters, "deleted")
