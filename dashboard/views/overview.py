"""Overview: alarms, stat cards, throughput chart, queue depths, recent tasks; live."""

from django.utils import timezone

from dashboard.access import reader
from dashboard.chart import throughput_chart
from dashboard.queues import queue_rows
from dashboard.rendering import render_live
from tasks.models import Task
from tasks.telemetry import alarms, counters, summary

RECENT = 10


@reader
def overview(request):
    now = timezone.now()
    minutes = counters.per_minute(now, 61)  # read once: the summary's full minutes, the chart's hour, the alarms
    stats = summary.stats(now, minutes)
    queues = queue_rows(now, stats["queues"], minutes[1:])
    context = {
        "now": now,
        "stats": stats,
        "alarms": alarms.alarms(now, queues, minutes[:-1]),
        "chart": throughput_chart(minutes[1:]),
        "queues": queues,
        "recent": Task.objects.defer("payload", "result", "errors").order_by("-id")[:RECENT],
    }
    return render_live(request, "dashboard/overview.html", context)
