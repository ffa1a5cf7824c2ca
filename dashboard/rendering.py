"""Pages whose live part refreshes itself.

A page template defines its live part with `{% partialdef live inline %}`,
marked `data-live` (templates/dashboard/_live_attrs.html). The first load
renders the whole page (readable without JavaScript); the header's refresh
menu (static/dashboard/dashboard.js) then has htmx ask the same URL at the
chosen interval, and the answer is only `template#live`.
"""

from django.shortcuts import render

from dashboard.access import is_htmx


def render_live(request, template: str, context: dict):
    if is_htmx(request):
        return render(request, f"{template}#live", context)
    return render(request, template, context)
