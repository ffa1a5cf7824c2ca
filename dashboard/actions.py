"""Operator actions: POST only, CSRF-checked, confirmed before anything changes.

With JavaScript, a form marked `data-confirm` asks in a dialog and sends
`confirm=yes` (static/dashboard/dashboard.js). Without it, the first POST
answers with a confirmation page whose button sends the same form again with
`confirm=yes`. Either way nothing changes until the operator has said yes.
"""

from collections.abc import Callable

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme


def perform(request, *, do: Callable[[], str], back: str, question: str | None = None):
    """Run `do` (which returns the message to show) and go back to `back` (or a safe
    `next`); when `question` is given, only after the operator confirmed it."""
    back = safe_next(request, back)
    if question and request.POST.get("confirm") != "yes":
        fields = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "confirm")}
        return render(request, "dashboard/confirm.html",
                      {"question": question, "action": request.path, "fields": fields, "back": back})
    messages.success(request, do())
    return redirect(back)


def safe_next(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
