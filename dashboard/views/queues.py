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


@staff_required
@require_POST
def pause(request, name):
    def do():
        Queue.pause(name)
        return f"Queue {name} is paused: workers claim nothing from it until it is resumed."

    return perform(request, do=do, back=reverse("dashboard:queues"))


@staff_required
@require_POST
def resume(request, name):
    def do():
        Queue.resume(name)
        return f"Queue {name} is running again."

    return perform(request, do=do, back=reverse("dashboard:queues"))


@staff_required
@require_POST
def purge(request, name):
    return perform(
        request, question=f"Purge queue {name}? Every scheduled and pending task in it is cancelled.",
        do=lambda: f"Queue {name} purged: {plural(task_queue.purge(name), 'task')} cancelled.",
        back=reverse("dashboard:queues"),
    )
