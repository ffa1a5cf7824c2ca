"""Queues: depth, throughput, oldest pending; pause, resume, purge; live."""

from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import staff_required
from dashboard.actions import perform, plural
from dashboard.queues import queue_rows
from dashboard.rendering import render_live
from tasks import queue as task_queue
from tasks.models import Queue


@staff_required
def queue_list(request):
    now = timezone.now()
    return render_live(request, "dashboard/queues.html", {"now": now, "queues": queue_rows(now)})


def _steer(change, outcome: str):
    @staff_required
    @require_POST
    def view(request, name):
        def do():
            change(name)
            return outcome.format(name=name)

        return perform(request, do=do, back=reverse("dashboard:queues"))

    return view


pause = _steer(Queue.pause, "Queue {name} is paused: workers claim nothing from it until it is resumed.")
resume = _steer(Queue.resume, "Queue {name} is running again.")


@staff_required
@require_POST
def purge(request, name):
    return perform(
        request, question=f"Purge queue {name}? Every scheduled and pending task in it is cancelled.",
        do=lambda: f"Queue {name} purged: {plural(task_queue.purge(name), 'task')} cancelled.",
        back=reverse("dashboard:queues"),
    )
