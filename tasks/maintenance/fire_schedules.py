"""Fire periodic schedules: enqueue the task of each tick that has come.

Exactly once per tick, however many workers run this: one transaction locks
the due schedule rows (FOR UPDATE SKIP LOCKED, under the chore's advisory
lock), enqueues each tick's task and moves the schedule to its next tick, so
the task and the move commit together or not at all. Each task also carries
the unique key `schedule:<id>:<tick>`.

Ticks missed while no worker ran (the latest due tick is more than
QUEUE_SCHEDULE_GRACE seconds old) follow the schedule's policy:
- run_once (default): one task, for the latest missed tick; older ones are
  coalesced into it;
- skip: no task; the schedule waits for its next tick.
Either way the next tick is the first one after now. Disabled schedules have
no ticks: enabling one plans its next tick from the moment it is enabled.
"""

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from tasks import conf
from tasks.backends import periodic
from tasks.db import try_lock
from tasks.models import MissedTicks, Schedule

logger = logging.getLogger("tasks.schedules")

BATCH = 100

_synced = False


def run_once(now: datetime) -> int:
    """Enqueue the due ticks of every schedule; returns how many tasks were enqueued."""
    global _synced
    with transaction.atomic():
        if not try_lock("schedules"):
            return 0
        if not _synced:
            periodic.sync(now)
        for schedule in Schedule.objects.unplanned():
            if _timing_works(schedule, now):
                schedule.plan(now)
                schedule.save(update_fields=["next_run_at", "updated_at"])
        due = Schedule.objects.due(now).order_by("next_run_at").select_for_update(skip_locked=True)[:BATCH]
        fired = sum(fire(schedule, now) for schedule in due if _timing_works(schedule, now))
    _synced = True
    return fired


def fire(schedule: Schedule, now: datetime) -> int:
    """Enqueue the task of `schedule`'s due tick (per its missed-tick policy) and
    move it to its next tick; returns 1 if a task was enqueued. Call with the row locked."""
    tick = max(schedule.latest_tick(now), schedule.next_run_at)
    lateness = (now - tick).total_seconds()
    task, error = None, ""
    if lateness > conf.get("SCHEDULE_GRACE") and schedule.missed == MissedTicks.SKIP:
        logger.warning("Schedule %s: tick %s was missed by %.0fs; skipped (policy: skip)",
                       schedule.name, tick.isoformat(), lateness)
    else:
        try:
            with transaction.atomic():
                task = periodic.enqueue_tick(schedule, tick, now)
        except (ValidationError, DatabaseError) as exc:
            error = f"The tick at {tick.isoformat()} enqueued nothing: {_reason(exc)}"
            logger.error("Schedule %s: %s", schedule.name, error)
        else:
            logger.info("Schedule %s: enqueued task %s for the tick at %s%s", schedule.name, task.id,
                        tick.isoformat(), " (late: missed ticks run once)" if lateness > conf.get("SCHEDULE_GRACE") else "")
    Schedule.objects.filter(pk=schedule.pk).update(
        next_run_at=schedule.next_tick(now),
        last_run_at=tick if task else schedule.last_run_at,
        last_task_id=task.pk if task else schedule.last_task_id,
        last_error=error,
        updated_at=now,
    )
    return 1 if task else 0


def _timing_works(schedule: Schedule, now: datetime) -> bool:
    """False, and the schedule disabled with the reason, when its cron or zone
    cannot be read (written around validation): one bad row must not stop the chore."""
    try:
        schedule.next_tick(now)
        return True
    except (ValueError, KeyError) as exc:
        error = f"Disabled: its cron {schedule.cron!r} or time zone {schedule.timezone!r} cannot be read ({exc})."
        logger.error("Schedule %s: %s", schedule.name, error)
        Schedule.objects.filter(pk=schedule.pk).update(enabled=False, next_run_at=None, last_error=error, updated_at=now)
        return False


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
    return str(exc).strip()
