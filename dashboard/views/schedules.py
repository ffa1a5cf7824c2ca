"""The schedules page: periodic tasks, their next tick, last tick and last task,
and switches (enable, disable, run now), each confirmed and recorded; live."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import reader, require
from dashboard.actions import perform
from dashboard.rendering import render_live
from tasks.backends import periodic
from tasks.models import Schedule
from tasks.models.task_ids import short_id

QUESTIONS = {
    "run": "Run schedule {name} now? Its task is enqueued at once; its ticks stay as they are.",
    "enable": "Enable schedule {name}? It next runs at its next tick from now.",
    "disable": "Disable schedule {name}? It enqueues nothing until enabled again.",
}


@reader
def schedule_list(request):
    context = {"schedules": Schedule.objects.select_related("last_task"), "now": timezone.now()}
    return render_live(request, "dashboard/schedules.html", context)


@require("schedule")
@require_POST
def schedule_action(request, pk: int, action: str):
    schedule = get_object_or_404(Schedule, pk=pk)
    if action not in QUESTIONS:
        raise Http404(f"Schedules can be run, enabled or disabled, not {action!r}.")

    def do():
        now = timezone.now()
        if action == "run":
            task = periodic.run_now(schedule, now)
            return f"{schedule.name}: task {task.type} {short_id(task.pk)} ({task.id}) is {task.status}.", 1
        changed = schedule.enabled != (action == "enable")
        schedule.set_enabled(action == "enable", now)
        return f"{schedule.name} is {'enabled' if schedule.enabled else 'disabled'}.", int(changed)

    return perform(request, action=f"schedule.{action}", target=f"schedule {schedule.name}",
                   question=QUESTIONS[action].format(name=schedule.name), do=do,
                   back=reverse("dashboard:schedules"))
