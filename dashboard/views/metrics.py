"""Metrics over time: throughput, wait and run time (p50, p95) per queue or per
task type, over the last hour, day or week; server-drawn charts; live."""

from django.utils import timezone

from dashboard.access import reader
from dashboard.linechart import PALETTE, line_chart
from dashboard.rendering import render_live
from tasks.telemetry import history

# window: (the x labels' time format, its title)
WINDOWS = {"1h": ("%H:%M", "the last hour, per minute"), "24h": ("%H:%M", "the last 24 hours, per 15 minutes"),
           "7d": ("%a %H:%M", "the last 7 days, per hour")}
BY = {"queue": "queue", "type": "task type"}


@reader
def metrics(request):
    name = request.GET.get("window") if request.GET.get("window") in WINDOWS else "1h"
    by = request.GET.get("by") if request.GET.get("by") in BY else "queue"
    now = timezone.now()
    starts, series = history.window(now, name, by)
    shown = series[:PALETTE]  # the busiest; the table lists every one
    time_format, described = WINDOWS[name]
    local = [timezone.localtime(s) for s in starts]

    def latency(kind: str, title: str):
        lines = []
        for i, one in enumerate(shown):
            for q, dashed in ((0.95, False), (0.5, True)):
                values = [p.percentile(kind, q) for p in one.points]
                lines.append((f"{one.name} p{int(q * 100)}", i, dashed, values))
        return line_chart(title, local, lines, log=True, time_format=time_format)

    throughput = line_chart(
        "Completed and failed tasks per period", local,
        [(one.name, i, False, [p.completed + p.failed for p in one.points]) for i, one in enumerate(shown)],
        log=False, label=lambda v: f"{v:,.0f}", time_format=time_format)
    return render_live(request, "dashboard/metrics.html", {
        "now": now, "window": name, "by": by, "by_label": BY[by], "windows": WINDOWS, "by_choices": BY,
        "described": described,
        "series": series, "shown": shown,
        "charts": [throughput, latency("wait", "Wait time: p95 (solid) and p50 (dashed)"),
                   latency("run", "Run time: p95 (solid) and p50 (dashed)")],
    })
