"""Small display helpers shared by the dashboard's templates."""

import json
from datetime import datetime, timedelta

from django import template
from django.utils import timezone

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
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.filter
def short_id(value) -> str:
    """The last 8 hex digits of a UUID: the random end of a UUIDv7 (its start is
    the timestamp, the same for tasks created together)."""
    return str(value)[-8:]


@register.filter
def percent(value) -> str:
    return "" if value is None else f"{float(value) * 100:.0f}%"
