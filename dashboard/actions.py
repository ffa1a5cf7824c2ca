"""Operator actions: POST only, CSRF-checked, confirmed, recorded in the audit log.

Every action asks first. With JavaScript, a form marked `data-confirm` asks in
a dialog and sends `confirm=yes` (static/dashboard/dashboard.js). Without it,
the first POST answers with a confirmation page whose button sends the same
form again with `confirm=yes`. Either way nothing changes until the operator
has said yes; then the change is made and written to the audit log, with the
number of rows it changed (tasks/models/audit.py).
"""

from collections.abc import Callable

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from tasks.models import Source, audit

# (message for the operator, rows changed)
Outcome = tuple[str, int]


def perform(request, *, action: str, target: str, question: str, do: Callable[[], Outcome], back: str,
            details: dict | None = None):
    """Once the operator confirmed `question`, run `do`, record it as `action` on
    `target`, and go back to `back` (or a safe `next`) with do's message."""
    back = safe_next(request, back)
    if request.POST.get("confirm") != "yes":
        return confirm(request, question, back)
    message, count = do()
    audit.record(request.user, action, target, count, source=Source.DASHBOARD, details=details)
    (messages.success if count else messages.warning)(request, message)
    return redirect(back)


def confirm(request, question: str, back: str):
    """The page that asks `question` and sends the same form again with confirm=yes."""
    fields = [(k, v) for k in request.POST for v in request.POST.getlist(k)
              if k not in ("csrfmiddlewaretoken", "confirm")]
    return render(request, "dashboard/confirm.html",
                  {"question": question, "action": request.path, "fields": fields, "back": back})


def safe_next(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
