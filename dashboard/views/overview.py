"""Overview: stat cards, throughput chart, queue depths, recent tasks; live."""

from django.utils import timezone

from dashboard.access import staff_required
from dashboard.chart import throughput_chart
from dashboard.queues import queue_rows
from dashboard.rendering import render_live
from tasks import stats
from tasks.models import Task

RECENT = 10


@staff_required
def overview(request):
    now = timezone.now()
    minutes = stats.per_minute(now, 61)  # read once: the summary's full minutes, the chart's hour
    summary = stats.summary(now, minutes)
    context = {
        "now": now,
        "stats": summary,
        "chart": throughput_chart(minutes[1:]),
        "queues": queue_rows(now, summary["queues"]),
        "recent": Task.objects.order_by("-id")[:RECENT],
    }
    return render_live(request, "dashboard/overview.html", context)
