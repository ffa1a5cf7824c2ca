"""Overview: stat cards, throughput chart, queue depths, recent tasks; live."""

from django.utils import timezone

from dashboard.access import staff_required
from dashboard.chart import throughput_chart
from dashboard.queues import queue_rows
from dashboard.rendering import render_live
from tasks.models import Task
from tasks.telemetry import counters, summary

RECENT = 10


@staff_required
def overview(request):
    now = timezone.now()
    minutes = counters.per_minute(now, 61)  # read once: the summary's full minutes, the chart's hour
    stats = summary.stats(now, minutes)
    context = {
        "now": now,
        "stats": stats,
        "chart": throughput_chart(minutes[1:]),
        "queues": queue_rows(now, stats["queues"], minutes[1:]),
        "recent": Task.objects.order_by("-id")[:RECENT],
    }
    return render_live(request, "dashboard/overview.html", context)
