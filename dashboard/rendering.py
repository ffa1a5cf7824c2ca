"""Pages whose live part refreshes itself.

A page template defines its live part with `{% partialdef live inline %}`. The
first load renders the whole page (readable without JavaScript); htmx then asks
the same URL every couple of seconds and gets only `template#live`.
"""

from django.shortcuts import render

from dashboard.access import is_htmx

# Seconds between refreshes of the live parts; the reference dashboard uses 2.
REFRESH_SECONDS = 2


def render_live(request, template: str, context: dict):
    context = {**context, "refresh_seconds": REFRESH_SECONDS}
    if is_htmx(request):
        return render(request, f"{template}#live", context)
    return render(request, template, context)
