"""The throughput chart: completed and failed per minute, as SVG drawn on the server.

Hand-drawn SVG needs no script and no library, reads without JavaScript, and
re-renders with the rest of the live overview. Each minute is a bar: completed
(green) at the bottom, failed (red) stacked on top, with a tooltip.
"""

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 600, 160
LEFT, BOTTOM, TOP = 40, 20, 10  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    minute: datetime
    completed: int
    failed: int
    completed_y: float
    completed_height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    plot_bottom: float
    top: int
    peak: int
    bars: list[Bar]
    completed: int
    failed: int
    first: datetime | None
    last: datetime | None


def throughput_chart(minutes: list[dict]) -> Chart:
    """Lay out bars for counters.per_minute(now) rows ({"minute", "completed", "failed"})."""
    peak = max((m["completed"] + m["failed"] for m in minutes), default=0)
    scale_top = max(peak, 1)
    plot_height = HEIGHT - BOTTOM - TOP
    plot_bottom = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT) / max(len(minutes), 1)
    bars = []
    for i, m in enumerate(minutes):
        done_h = plot_height * m["completed"] / scale_top
        fail_h = plot_height * m["failed"] / scale_top
        bars.append(Bar(
            x=round(LEFT + i * slot + slot * 0.1, 2), width=round(slot * 0.8, 2), minute=m["minute"],
            completed=m["completed"], failed=m["failed"],
            completed_y=round(plot_bottom - done_h, 2), completed_height=round(done_h, 2),
            failed_y=round(plot_bottom - done_h - fail_h, 2), failed_height=round(fail_h, 2),
        ))
    return Chart(
        width=WIDTH, height=HEIGHT, left=LEFT, plot_bottom=plot_bottom, top=TOP, peak=peak, bars=bars,
        completed=sum(m["completed"] for m in minutes), failed=sum(m["failed"] for m in minutes),
        first=minutes[0]["minute"] if minutes else None, last=minutes[-1]["minute"] if minutes else None,
    )
