"""Retry, cancel, run now and delete one task, redeliver a webhook; each
confirmed, recorded, and made through tasks.queue (or the webhook outbox)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import require
from dashboard.actions import perform
from tasks import queue
from tasks.models import Task, WebhookDelivery
from tasks.models.task_ids import short_id
from tasks.webhooks import outbox


def _task_action(name: str, question: str, change, done: str, refused: str, *, then: str = "task"):
    @require("task")
    @require_POST
    def view(request, pk):
        task = get_object_or_404(Task.objects.only("id", "type", "status"), pk=pk)
        label = f"{task.type} {short_id(task.pk)}"

        def do():
            changed = change(Task.objects.filter(pk=task.pk))
            return (done if changed else refused).format(label=label, status=task.status), changed

        return perform(
            request, action=f"task.{name}", target=f"task {label}", details={"ids": [task.pk]},
            question=question.format(label=label), do=do,
            back=reverse("dashboard:task", args=[task.pk]) if then == "task" else reverse(then),
        )

    return view


retry = _task_action(
    "retry", "Retry task {label}? It goes back to pending with a fresh set of retries.", queue.retry,
    "Task {label} is pending again.", "Task {label} is {status}; only failed or cancelled tasks can be retried.",
)
cancel = _task_action(
    "cancel", "Cancel task {label}? It will not run.", queue.cancel,
    "Task {label} is cancelled.", "Task {label} is {status}; only scheduled or pending tasks can be cancelled.",
)
run_now = _task_action(
    "run_now", "Run task {label} now, instead of at its scheduled time?", queue.run_now,
    "Task {label} is pending and runs at once.", "Task {label} is {status}; only scheduled tasks can be run now.",
)
delete = _task_action(
    "delete", "Delete dead letter {label}? Its payload and errors are lost.", queue.delete_dead_letters,
    "Task {label} is deleted.", "Task {label} is {status}; only failed tasks (dead letters) can be deleted.",
    then="dashboard:dead_letters",
)


@require("delivery")
@require_POST
def redeliver(request, pk, delivery):
    found = get_object_or_404(WebhookDelivery.objects.select_related("task"), pk=delivery, task_id=pk)
    label = f"{found.event} of task {found.task.type} {short_id(pk)} to {found.url}"

    def do():
        changed = outbox.redeliver(WebhookDelivery.objects.filter(pk=found.pk), timezone.now())
        if changed:
            return f"The webhook ({label}) will be delivered again, with a fresh set of attempts.", changed
        return f"The webhook ({label}) is still being delivered; nothing to redeliver.", changed

    return perform(request, action="delivery.redeliver", target=label, details={"delivery": found.pk},
                   question=f"Deliver the webhook ({label}) again?", do=do,
                   back=reverse("dashboard:task", args=[pk]))
