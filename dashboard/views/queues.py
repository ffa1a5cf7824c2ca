"""Queues: depth, throughput, oldest pending, flow-control limits; pause, resume, purge, set limits; live."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import reader, require
from dashboard.actions import perform, plural
from dashboard.limits_form import LimitsForm
from dashboard.queues import queue_rows
from dashboard.rendering import render_live
from tasks import queue as task_queue
from tasks.queue import ordering
from tasks.models import Queue


@reader
def queue_list(request):
    now = timezone.now()
    return render_live(request, "dashboard/queues.html", {"now": now, "queues": queue_rows(now)})


def _steer(name: str, question: str, change, outcome: str):
    @require("queue")
    @require_POST
    def view(request, queue_name):
        def do():
            change(queue_name)
            return outcome.format(name=queue_name), 1

        return perform(request, action=f"queue.{name}", target=f"queue {queue_name}",
                       question=question.format(name=queue_name), do=do, back=reverse("dashboard:queues"))

    return view


pause = _steer("pause", "Pause queue {name}? Workers claim nothing from it until it is resumed; tasks can still "
                        "be added.", Queue.pause,
               "Queue {name} is paused: workers claim nothing from it until it is resumed.")
resume = _steer("resume", "Resume queue {name}? Workers claim from it again.", Queue.resume,
                "Queue {name} is running again.")


@require("queue")
@require_POST
def purge(request, queue_name):
    def do():
        cancelled = task_queue.purge(queue_name)
        return f"Queue {queue_name} purged: {plural(cancelled, 'task')} cancelled.", cancelled

    return perform(
        request, action="queue.purge", target=f"queue {queue_name}", do=do, back=reverse("dashboard:queues"),
        question=f"Purge queue {queue_name}? Every scheduled and pending task in it is cancelled.",
    )


@require("settings")  # a queue's limits are settings: the admin scope, as PATCH /api/queues/{name} asks
@require_POST
def limits(request, queue_name):
    """Set the queue's flow-control limits (the whole form at once); workers apply them within a second."""
    form = LimitsForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Queue {queue_name}: nothing changed. {problems}")
        return redirect(reverse("dashboard:queues"))

    def do():
        Queue.objects.update_or_create(name=queue_name, defaults=form.cleaned_data)
        ordering.forget()  # this process accepts ordering keys for the queue at once
        return f"Queue {queue_name}: limits saved; workers apply them within a second.", 1

    return perform(request, action="queue.limits", target=f"queue {queue_name}", do=do,
                   back=reverse("dashboard:queues"), details=form.cleaned_data,
                   question=f"Set the limits of queue {queue_name}? Workers apply them within a second.")
