"""Line charts of the metrics over time, laid out on the server as SVG.

Like the overview's bar chart (chart.py): no script, no library; the page
draws polylines from these coordinates. Times span orders of magnitude
(milliseconds to minutes), so latency charts use a log scale; counts a linear
one. A period without data breaks the line instead of drawing it to zero.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, BOTTOM, TOP = 56, 8, 22, 10
# The log scale's gridlines: times people name.
TIME_TICKS = ((0.001, "1 ms"), (0.01, "10 ms"), (0.1, "100 ms"), (1, "1 s"), (10, "10 s"), (60, "1 min"),
              (600, "10 min"), (3600, "1 h"), (36000, "10 h"), (360000, "100 h"))
PALETTE = 8  # CSS classes line-0 .. line-7


@dataclass(frozen=True)
class Line:
    name: str
    colour: int  # the palette index
    dashed: bool
    segments: list[str]  # SVG polyline "points", one per unbroken run of two or more
    dots: list[tuple[float, float]]  # lone points, drawn as dots


@dataclass
class LineChart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    plot_right: int = WIDTH - RIGHT
    lines: list[Line] = field(default_factory=list)
    y_labels: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str, str]] = field(default_factory=list)  # x, text, anchor

    @property
    def empty(self) -> bool:
        return not self.lines


def line_chart(title: str, starts: list[datetime], lines: list[tuple[str, int, bool, list[float | None]]], *,
               log: bool, time_format: str, label=str) -> LineChart:
    """Lay out `lines` ((name, colour, dashed, one value or None per start)) over
    the periods `starts`; `label` formats a y value of the linear scale."""
    chart = LineChart(title)
    values = [v for _, _, _, series in lines for v in series if v is not None and (v > 0 or not log)]
    if not values or not starts:
        return chart
    low, high = (min(values), max(values)) if log else (0.0, max(values))
    y_of = _log_scale(low, high, chart) if log else _linear_scale(high, chart)
    step = (chart.plot_right - chart.left) / max(len(starts) - 1, 1)
    for name, colour, dashed, series in lines:
        runs, run = [], []
        for i, value in enumerate([*series, None]):
            if value is None or (log and value <= 0):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((round(chart.left + i * step, 1), round(y_of(value), 1)))
        if runs:
            chart.lines.append(Line(name, colour % PALETTE, dashed,
                                    [" ".join(f"{x},{y}" for x, y in r) for r in runs if len(r) > 1],
                                    [r[0] for r in runs if len(r) == 1]))
    ticks = [(v, text) for v, text in TIME_TICKS if low / 10 < v < high * 10] if log else \
        [(v, label(v)) for v in _linear_ticks(high)]
    chart.y_labels = [(round(y_of(v), 1), text) for v, text in ticks
                      if chart.top - 1 <= y_of(v) <= chart.plot_bottom + 1]
    middle = len(starts) // 2
    chart.x_labels = [(chart.left, f"{starts[0]:{time_format}}", "start"),
                      (round(chart.left + middle * step, 1), f"{starts[middle]:{time_format}}", "middle"),
                      (chart.plot_right, f"{starts[-1]:{time_format}}", "end")]
    return chart


def _linear_scale(high: float, chart: LineChart):
    top = max(high, 1)
    height = chart.plot_bottom - chart.top
    return lambda v: chart.plot_bottom - height * v / top


def _log_scale(low: float, high: float, chart: LineChart):
    """Whole decades around the data, so that gridlines fall at round times."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    hi = max(hi, lo + 1)
    height = chart.plot_bottom - chart.top
    return lambda v: chart.plot_bottom - height * (math.log10(v) - lo) / (hi - lo)


def _linear_ticks(high: float) -> list[float]:
    top = max(high, 1)
    return [0, top / 2, top] if top >= 2 else [0, top]
