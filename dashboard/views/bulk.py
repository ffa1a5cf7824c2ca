"""Bulk actions on the task list and the dead letters: on the selected rows, or on
every task that matches the list's filter.

The confirmation gives the exact number of tasks that will change (those among
the selection whose status allows the action); the others are left alone and
the page says so. "Everything matching" is the list's own Selection
(dashboard/filters.py): a filter value that is not valid refuses the action
instead of being dropped, and no selected row means nothing to do, never
"all". Afterwards the operator is back on the same list, same filter.
"""

from uuid import UUID

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.access import require
from dashboard.actions import perform, plural, safe_next
from dashboard.filters import select
from dashboard.listing import counted
from tasks import queue
from tasks.models import CANCELLABLE_STATUSES, RETRYABLE_STATUSES, Task, TaskStatus

# action: (change, statuses it applies to, past tense, those statuses in words)
ACTIONS = {
    "retry": (queue.retry, RETRYABLE_STATUSES, "retried", "failed or cancelled"),
    "cancel": (queue.cancel, CANCELLABLE_STATUSES, "cancelled", "scheduled or pending"),
    "run_now": (queue.run_now, (TaskStatus.SCHEDULED,), "made runnable now", "scheduled"),
    "delete": (queue.delete_dead_letters, (TaskStatus.FAILED,), "deleted", "failed (dead letters)"),
}
# list: (its page, the status it is fixed to, what its rows are called)
LISTS = {"tasks": ("dashboard:tasks", "", ("task", "tasks")),
         "dead_letters": ("dashboard:dead_letters", TaskStatus.FAILED, ("dead letter", "dead letters"))}


@require("task")
@require_POST
def bulk(request):
    post = request.POST
    name, scope, listing = post.get("action"), post.get("scope"), post.get("list", "tasks")
    if name not in ACTIONS or scope not in ("selected", "matching") or listing not in LISTS:
        return refuse(request, "Choose an action (retry, cancel, run now or delete) and whether it applies to the "
                               "selected tasks or to every task matching the filter.")
    change, statuses, done, which = ACTIONS[name]
    url, fixed, (one, many) = LISTS[listing]
    if scope == "selected":
        try:
            ids = [UUID(value) for value in post.getlist("ids")]
        except ValueError:
            return refuse(request, "A selected task id is not a task id.")
        if not ids:
            return refuse(request, "No task is selected: tick the rows to act on, or use the button for "
                                   "every task matching the filter.")
        chosen, target, details = Task.objects.filter(pk__in=ids), f"the {plural(len(ids), 'selected task')}", {"ids": ids}
        eligible = chosen.filter(status__in=statuses)
        count = eligible.count()
    else:
        _, selection = select(post, fixed_status=fixed)
        if selection.errors:
            fields = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in selection.errors.items())
            return refuse(request, f"The filter is not valid ({fields}), so it cannot say which tasks to change.")
        target = f"the {many} matching {selection.described}" if selection.described else f"every {one}"
        details = {"filter": {k: post[k] for k in ("q", "status", "type", "queue", "priority") if post.get(k)}}
        eligible = selection.tasks.filter(status__in=statuses)
        count = _exact_count(eligible, selection, statuses)
    question = (f"{name.replace('_', ' ').capitalize()} {plural(count, 'task')}? Those are the {which} tasks among "
                f"{target}; tasks in other statuses are left as they are.")

    def do():
        changed = change(eligible)
        return f"{plural(changed, 'task')} {done} ({target}).", changed

    return perform(request, action=f"tasks.{name}", target=target, question=question, details=details, do=do,
                   back=safe_next(request, reverse(url)))


def _exact_count(eligible, selection, statuses) -> int:
    """Exact, from the counters when only status and queue filter; else COUNT(*)."""
    if selection.uncounted:
        return eligible.count()
    return counted({s for s in statuses if not selection.status or s == selection.status}, selection.queue)


def refuse(request, reason: str):
    return render(request, "dashboard/refused.html",
                  {"reason": reason, "back": safe_next(request, reverse("dashboard:tasks"))}, status=400)
