"""Workers: who is alive, what each runs, who was lost holding tasks; pause and resume; live."""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import reader, require
from dashboard.actions import perform
from dashboard.rendering import render_live
from tasks.models import Task, TaskStatus, Worker, WorkerState

# Workers that stopped or went silent stay on the page this long, for the record.
RECENTLY = timedelta(hours=1)


@reader
def worker_list(request):
    now = timezone.now()
    alive = list(Worker.objects.alive(now).order_by("hostname", "pid"))
    gone = list(Worker.objects.filter(last_heartbeat__gte=now - RECENTLY)
                .exclude(pk__in=[w.pk for w in alive]).order_by("-last_heartbeat"))
    # Processing tasks are few (the status index); a lost worker's are listed too, until rescued.
    held: dict = {}
    for task in (Task.objects.filter(status=TaskStatus.PROCESSING, worker_id__in=[w.pk for w in alive + gone])
                 .only("id", "type", "worker_id", "started_at", "progress")):
        held.setdefault(task.worker_id, []).append(task)
    for worker in alive + gone:
        worker.current_tasks = held.get(worker.pk, [])
        worker.lost = worker.state != WorkerState.STOPPED and worker not in alive
    return render_live(request, "dashboard/workers.html", {"now": now, "workers": alive, "gone": gone})


def _steer(verb: str, method: str):
    @require("worker")
    @require_POST
    def view(request, pk):
        worker = get_object_or_404(Worker, pk=pk)

        def do():
            if getattr(worker, method)():
                return f"Worker {worker.name} is {worker.state}.", 1
            return f"Worker {worker.name} is {worker.state}; it cannot be {verb}.", 0

        question = (f"Pause worker {worker.name}? It finishes what it runs and claims nothing new until resumed."
                    if method == "pause" else f"Resume worker {worker.name}? It claims tasks again.")
        return perform(request, action=f"worker.{method}", target=f"worker {worker.name}", question=question,
                       do=do, back=reverse("dashboard:workers"))

    return view


pause = _steer("paused", "pause")
resume = _steer("resumed", "resume")
