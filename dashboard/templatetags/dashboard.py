"""Small display helpers shared by the dashboard's templates."""

import json
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html

from tasks.models import task_ids

register = template.Library()


@register.filter
def age(value, now: datetime | None = None) -> str:
    """A duration as people read it: "4 s", "3 min 20 s", "2 h 5 min", "3 d 4 h".

    Takes seconds, a timedelta, or a past datetime (measured to `now`)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, datetime):
        value = (now or timezone.now()) - value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(seconds, 0)
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            rest = (seconds % size) // sub_size
            return f"{seconds // size} {unit}" + (f" {rest} {sub}" if rest else "")
    return f"{seconds} s"


@register.filter
def relative(value: datetime | None, now: datetime | None = None) -> str:
    """A moment from `now`: "3 min ago" or "in 5 min"."""
    if value is None:
        return "–"
    now = now or timezone.now()
    return f"in {age(value - now)}" if value > now else f"{age(now - value)} ago"


@register.filter
def stamp(value: datetime | None) -> str:
    """A moment in the current time zone, to the second: "2030-01-01 09:00:05 CET"."""
    if value is None:
        return "–"
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.filter
def short_id(value) -> str:
    return task_ids.short_id(value)


@register.filter
def clip(value: str, length: int) -> str:
    """At most `length` characters, with an ellipsis when cut (truncatechars, without
    its Unicode-aware machinery, which costs more than a whole row of a list)."""
    value = value or ""
    return value if len(value) <= length else value[: length - 1] + "…"


@register.filter
def percent(value) -> str:
    return "" if value is None else f"{float(value) * 100:.0f}%"


@register.filter
def seconds(value: float | None) -> str:
    """A time that may be well under a second: "12 ms", "1.4 s", "3 min 2 s"."""
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else age(value)


@register.filter
def thousands(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def percentile_of(point, spec: str) -> float | None:
    """A percentile of a tasks.telemetry.history.Point: `point|percentile_of:"wait,0.95"`."""
    kind, q = spec.split(",")
    return point.percentile(kind, float(q))


@register.simple_tag
def moment(at: datetime | None, now: datetime | None = None) -> str:
    """A <time> that reads relative to now ("3 min ago") with the exact time as its title.
    A tag rather than an included template: lists render it on every row."""
    if at is None:
        return "–"
    return format_html('<time datetime="{}" title="{}">{}</time>', at.isoformat(timespec="seconds"), stamp(at),
                       relative(at, now))


@register.simple_tag
def task_state(task, now: datetime) -> str:
    """What matters about a task in its status: when it runs, how long it has waited
    or run, how long it took, when it failed or was cancelled."""
    status = task.status
    if status == "waiting":
        return f"waiting on dependencies {age(task.created_at, now)}"
    if status == "scheduled":
        return format_html("runs {}", moment(task.run_at, now))
    if status == "pending":
        return f"waiting {age(max(task.run_at, task.created_at), now)}"  # not since a past scheduled_for
    if status == "processing":
        return f"running {age(task.started_at, now)}"
    if status == "completed":
        return format_html("took {}, {}", age(task.duration), moment(task.completed_at, now))
    return format_html("{} {}", status, moment(task.completed_at, now))
