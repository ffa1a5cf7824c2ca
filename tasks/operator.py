"""What the operator commands do, as plain functions over tasks.queue,
tasks.stats and tasks.maintenance. They parse and print nothing, so tests call
them directly and the commands stay thin."""

import json
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from tasks import conf, queue
from tasks.maintenance import prune, prune_events
from tasks.models import Event, Task, TaskStatus


def parse_payload(text: str | None) -> Any:
    """JSON when it parses, else the text itself (`enqueue email user@example.com`)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone; ValueError says what is wrong."""
    value = parse_datetime(text)
    if value is None or value.tzinfo is None:
        raise ValueError(f"{text!r} is not an ISO 8601 time with a zone, such as 2030-01-01T09:00:00Z.")
    return value


def enqueue(type: str, payload: Any, *, count: int = 1, **options: Any) -> list[Task]:
    """Enqueue `count` identical tasks in one statement; ValidationError names bad fields."""
    return queue.enqueue_many([queue.build(type, payload, **options) for _ in range(count)])


def dead_letters(*, queue_name: str | None = None, type: str | None = None, error: str | None = None,
                 failed_after: datetime | None = None, failed_before: datetime | None = None,
                 cancelled: bool = False) -> QuerySet:
    """Failed tasks (and cancelled ones, if asked) matching every given filter."""
    statuses = [TaskStatus.FAILED, TaskStatus.CANCELLED] if cancelled else [TaskStatus.FAILED]
    tasks = Task.objects.filter(status__in=statuses)
    if queue_name:
        tasks = tasks.filter(queue=queue_name)
    if type:
        tasks = tasks.filter(type=type)
    if error:
        tasks = tasks.filter(last_error__icontains=error)
    if failed_after:
        tasks = tasks.filter(completed_at__gte=failed_after)
    if failed_before:
        tasks = tasks.filter(completed_at__lt=failed_before)
    return tasks


def expired(now: datetime) -> dict[str, int]:
    """What prune would delete now, by kind, without deleting it."""
    counts = {}
    for label, statuses, seconds in (("completed and cancelled tasks", ["completed", "cancelled"], conf.get("RETENTION")),
                                      ("failed tasks", ["failed"], conf.get("FAILED_RETENTION"))):
        cutoff = now - timedelta(seconds=seconds)
        counts[label] = Task.objects.filter(status__in=statuses, completed_at__lt=cutoff).count() if seconds > 0 else 0
    event_cutoff = now - timedelta(seconds=conf.get("EVENT_RETENTION"))
    counts["event log rows"] = Event.objects.filter(at__lt=event_cutoff).count()
    return counts


def prune_now(now: datetime) -> dict[str, int]:
    """Run the pruning chores once, as housekeeping does."""
    return {"tasks": prune.run_once(now), "event log rows": prune_events.run_once(now)}
