"""Create a task: a Basic tab (type, payload) and an Advanced tab (every option)."""

from django.contrib import messages
from django.shortcuts import redirect, render

from dashboard.access import staff_required
from dashboard.forms import ADVANCED, BASIC, TaskForm
from dashboard.templatetags.dashboard import short_id


@staff_required
def create_task(request):
    if request.method == "POST":
        form = TaskForm(request.POST)
        if form.is_valid():
            task = form.save()
            messages.success(request, f"Task {task.type} {short_id(task.pk)} created ({task.status}).")
            return redirect("dashboard:task", pk=task.pk)
        status = 400
    else:
        tab = ADVANCED if request.GET.get("tab") == ADVANCED else BASIC
        form = TaskForm(initial={"tab": tab, "queue": "default", "priority": "0"})
        status = 200
    return render(request, "dashboard/create.html", {"form": form, "tab": form.active_tab}, status=status)
