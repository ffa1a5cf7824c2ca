"""Retry, cancel, run now and delete one task; each confirmed, each through tasks.queue."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.access import staff_required
from dashboard.actions import perform
from dashboard.templatetags.dashboard import short_id
from tasks import queue
from tasks.models import Task


def _task_action(question: str, change, done: str, refused: str, *, then: str = "task"):
    @staff_required
    @require_POST
    def view(request, pk):
        task = get_object_or_404(Task.objects.only("id", "type", "status"), pk=pk)
        one = Task.objects.filter(pk=task.pk)
        label = f"{task.type} {short_id(task.pk)}"
        return perform(
            request, question=question.format(label=label),
            do=lambda: (done if change(one) else refused).format(label=label, status=task.status),
            back=reverse("dashboard:task", args=[task.pk]) if then == "task" else reverse(then),
        )

    return view


retry = _task_action(
    "Retry task {label}? It goes back to pending with a fresh set of retries.", queue.retry,
    "Task {label} is pending again.", "Task {label} is {status}; only failed or cancelled tasks can be retried.",
)
cancel = _task_action(
    "Cancel task {label}? It will not run.", queue.cancel,
    "Task {label} is cancelled.", "Task {label} is {status}; only scheduled or pending tasks can be cancelled.",
)
run_now = _task_action(
    "Run task {label} now, instead of at its scheduled time?", queue.run_now,
    "Task {label} is pending and runs at once.", "Task {label} is {status}; only scheduled tasks can be run now.",
)
delete = _task_action(
    "Delete dead letter {label}? Its payload and errors are lost.", queue.delete_dead_letters,
    "Task {label} is deleted.", "Task {label} is {status}; only failed tasks (dead letters) can be deleted.",
    then="dashboard:dead_letters",
)
