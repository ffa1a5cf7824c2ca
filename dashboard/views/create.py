"""Create a task: a Basic tab (type, payload) and an Advanced tab (every option)."""

from django.contrib import messages
from django.shortcuts import redirect, render

from dashboard.access import require
from dashboard.forms import ADVANCED, BASIC, TaskForm
from tasks.models import Source, audit
from tasks.models.task_ids import short_id


@require("create")
def create_task(request):
    if request.method == "POST":
        form = TaskForm(request.POST)
        if form.is_valid():
            task = form.save()
            audit.record(request.user, "task.create", f"task {task.type} {short_id(task.pk)}", 1,
                         source=Source.DASHBOARD, details={"ids": [task.pk]})
            messages.success(request, f"Task {task.type} {short_id(task.pk)} created ({task.status}).")
            return redirect("dashboard:task", pk=task.pk)
        status = 400
    else:
        tab = ADVANCED if request.GET.get("tab") == ADVANCED else BASIC
        form = TaskForm(initial={"tab": tab, "queue": "default", "priority": "0"})
        status = 200
    return render(request, "dashboard/create.html", {"form": form, "tab": form.active_tab}, status=status)
