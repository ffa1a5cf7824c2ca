"""Workers: who is alive, what each runs, pause and resume; live."""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import staff_required
from dashboard.actions import perform
from dashboard.rendering import render_live
from tasks.models import Task, TaskStatus, Worker

# Workers that stopped or went silent stay on the page this long, for the record.
RECENTLY = timedelta(hours=1)


@staff_required
def worker_list(request):
    now = timezone.now()
    alive = list(Worker.objects.alive(now).order_by("hostname", "pid"))
    running = Task.objects.filter(status=TaskStatus.PROCESSING, worker_id__in=[w.pk for w in alive])
    current: dict = {}
    for task in running.only("id", "type", "worker_id", "started_at", "progress"):
        current.setdefault(task.worker_id, []).append(task)
    for worker in alive:
        worker.current_tasks = current.get(worker.pk, [])
    gone = (Worker.objects.filter(last_heartbeat__gte=now - RECENTLY)
            .exclude(pk__in=[w.pk for w in alive]).order_by("-last_heartbeat"))
    return render_live(request, "dashboard/workers.html", {"now": now, "workers": alive, "gone": gone})


def _steer(verb: str, method: str):
    @staff_required
    @require_POST
    def view(request, pk):
        worker = get_object_or_404(Worker, pk=pk)

        def do() -> str:
            if getattr(worker, method)():
                return f"Worker {worker.name} is {worker.state}."
            return f"Worker {worker.name} is {worker.state}; it cannot be {verb}."

        return perform(request, do=do, back=reverse("dashboard:workers"))

    return view


pause = _steer("paused", "pause")
resume = _steer("resumed", "resume")
