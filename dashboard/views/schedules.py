"""The schedules page: periodic tasks, their next and last runs, and switches."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import staff_required
from tasks.backends import periodic
from tasks.models import Schedule


@staff_required
def schedule_list(request):
    context = {
        "schedules": Schedule.objects.select_related("last_task"),
        "now": timezone.now(),
    }
    return render(request, "dashboard/schedules.html", context)


@staff_required
@require_POST
def schedule_action(request, pk: int, action: str):
    schedule = get_object_or_404(Schedule, pk=pk)
    now = timezone.now()
    if action == "run":
        task = periodic.run_now(schedule, now)
        messages.success(request, f"{schedule.name}: task {task.id} is {task.status}.")
    elif action in ("enable", "disable"):
        schedule.set_enabled(action == "enable", now)
        messages.success(request, f"{schedule.name} is {'enabled' if schedule.enabled else 'disabled'}.")
    else:
        messages.error(request, f"Unknown action {action!r}; use enable, disable or run.")
    return redirect("dashboard:schedules")

