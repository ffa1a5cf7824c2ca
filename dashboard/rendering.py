"""Pages whose live part refreshes itself.

A page template defines its live part with `{% partialdef live inline %}`,
marked `data-live` (templates/dashboard/_live_attrs.html). The first load
renders the whole page (readable without JavaScript); the header's refresh
menu (static/dashboard/dashboard.js) then has htmx ask the same URL at the
chosen interval, and the answer is only `template#live`.
"""

import math

from django.shortcuts import render

from dashboard.access import is_htmx
from tasks import replica


def render_live(request, template: str, context: dict):
    context = {**context, "source": source()}
    if is_htmx(request):
        return render(request, f"{template}#live", context)
    return render(request, template, context)


def source() -> dict | None:
    """Where the page's numbers come from, when a read replica is configured:
    {"replica": bool, "lag": seconds behind or None}; None without a replica."""
    if not replica.configured():
        return None
    lag = replica.recent_lag()
    return {"replica": replica.active(), "lag": None if math.isinf(lag) else lag}
