"""Periodic tasks declared in settings or code, synced into the Schedule table.

    # settings.py
    TASK_SCHEDULES = {
        "nightly-report": {"cron": "0 3 * * *", "timezone": "Europe/Paris",
                           "task": "reports.tasks.nightly_report", "kwargs": {"send": True}},
        "ping": {"cron": "@hourly", "task": "webhook", "payload": {"url": "https://example.com/ping"}},
    }

    # reports/tasks.py
    from django.tasks import task
    from tasks.backends.periodic import periodic

    @periodic("*/15 * * * *")
    @task
    def refresh_cache(): ...

`task` is a registered type name: a @task's type name (its dotted path, or its
`expose=` name) or a handler type such as `email`. Workers sync declarations
into the table when they start: the definition belongs to the code, `enabled`
to the operator (disabling one in the admin survives deploys), and declared
schedules that the code no longer declares are deleted. Schedules created in
the admin or the dashboard belong to the database.
"""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError

from tasks import queue
from tasks.backends import functions
from tasks.models import MissedTicks, Schedule, Task

logger = logging.getLogger("tasks.schedules")

SPEC_KEYS = {"cron", "task", "payload", "args", "kwargs", "timezone", "queue", "priority", "missed", "enabled"}
# The definition a declaration owns; `enabled` is left to operators after creation.
DEFINITION = ("cron", "timezone", "task_type", "payload", "queue", "priority", "missed")

_declared: dict[str, dict[str, Any]] = {}


def declare(name: str, **spec: Any) -> None:
    """Declare a periodic task in code; `spec` takes the keys of TASK_SCHEDULES entries."""
    if name in _declared and _declared[name] != spec:
        raise ValueError(f"A different schedule named {name!r} is already declared.")
    _declared[name] = spec


def periodic(cron: str, *, name: str | None = None, args=(), kwargs=None, **options: Any):
    """Decorate a @task to enqueue it on `cron` (see `declare` for the options)."""

    def decorate(task: functions.QueueTask) -> functions.QueueTask:
        if not isinstance(task, functions.QueueTask):
            raise TypeError("Put @periodic above @task: it schedules a task, not a plain function.")
        declare(name or task.name, cron=cron, task=task.type_name, args=list(args), kwargs=dict(kwargs or {}),
                **options)
        return task

    return decorate


def declared() -> dict[str, dict[str, Any]]:
    """Every declaration: code's, then settings' (which win on a shared name)."""
    return {**_declared, **getattr(settings, "TASK_SCHEDULES", {})}


def row_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """The Schedule fields a declaration defines; ValueError names what is wrong."""
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"Unknown keys {', '.join(unknown)}; a schedule takes {', '.join(sorted(SPEC_KEYS))}.")
    if "cron" not in spec or "task" not in spec:
        raise ValueError('A schedule needs a "cron" and a "task".')
    task_type = spec["task"].type_name if isinstance(spec["task"], functions.QueueTask) else spec["task"]
    python_task = functions.get(task_type)
    payload = spec.get("payload")
    if python_task is not None and payload is None:
        payload = {"args": list(spec.get("args", [])), "kwargs": dict(spec.get("kwargs", {}))}
    return {
        "cron": spec["cron"],
        "timezone": spec.get("timezone", "UTC"),
        "task_type": task_type,
        "payload": payload,
        "queue": spec.get("queue") or (python_task.queue_name if python_task else "default"),
        "priority": spec.get("priority", python_task.priority if python_task else 0),
        "missed": spec.get("missed", MissedTicks.RUN_ONCE),
    }


def sync(now: datetime) -> int:
    """Write declarations into the table; returns how many rows changed."""
    specs = declared()
    changed = 0
    for name, spec in specs.items():
        try:
            fields = row_fields(spec)
        except ValueError as exc:
            logger.error("Schedule %s is not synced: %s", name, exc)
            continue
        schedule = Schedule.objects.filter(name=name).first() or Schedule(name=name, enabled=spec.get("enabled", True))
        retimed = schedule.pk is None or (schedule.cron, schedule.timezone) != (fields["cron"], fields["timezone"])
        if schedule.declared and not retimed and all(getattr(schedule, f) == fields[f] for f in DEFINITION):
            continue
        for field, value in fields.items():
            setattr(schedule, field, value)
        schedule.declared = True
        try:
            schedule.clean()
        except ValidationError as exc:
            logger.error("Schedule %s is not synced: %s", name, exc.message_dict)
            continue
        if retimed:
            schedule.plan(now)
        schedule.save()
        changed += 1
    deleted, _ = Schedule.objects.filter(declared=True).exclude(name__in=list(specs)).delete()
    return changed + deleted


def check_declared() -> list[checks.CheckMessage]:
    """System-check errors for declarations that cannot be synced."""
    errors = []
    for name, spec in declared().items():
        try:
            Schedule(name=name, **row_fields(spec)).clean()
        except ValueError as exc:
            errors.append(checks.Error(f"Schedule {name!r}: {exc}", id="tasks.E001"))
        except ValidationError as exc:
            detail = "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
            errors.append(checks.Error(f"Schedule {name!r}: {detail}", id="tasks.E001"))
    return errors


def enqueue_tick(schedule: Schedule, tick: datetime, now: datetime) -> Task:
    """Enqueue the task of one tick. Its unique key names the schedule and the tick."""
    return _enqueue(schedule, f"schedule:{schedule.pk}:{tick.isoformat()}", run_at=tick, now=now)


def run_now(schedule: Schedule, now: datetime) -> Task:
    """Enqueue the schedule's task at once, leaving its ticks alone.

    While an earlier "run now" task is still active, returns it (a double click
    runs the task once).
    """
    task = _enqueue(schedule, f"schedule:{schedule.pk}:now", run_at=now, now=now)
    # last_run_at stays the last tick's: a run by hand is not a tick.
    Schedule.objects.filter(pk=schedule.pk).update(last_task_id=task.pk, last_error="", updated_at=now)
    return task


def _enqueue(schedule: Schedule, key: str, *, run_at: datetime, now: datetime) -> Task:
    return queue.enqueue(
        schedule.task_type, schedule.payload, queue=schedule.queue, priority=schedule.priority,
        run_at=run_at, unique_key=key, now=now,
    )
