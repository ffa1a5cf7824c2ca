"""Alarms: what an operator must know now, read without scanning the task table.

From the status counters, the worker rows, the claim index and the per-minute
failures: no live worker while work waits; a lost worker still holding tasks
(listed, since only a live worker's housekeeping rescues them); a queue no
live worker serves; the oldest pending task over QUEUE_ALARM_PENDING_AGE;
paused queues; dead letters arriving faster than before. The overview shows
them all; /api/health reports the fleet's (`fleet_problems`).
"""

from dataclasses import dataclass, field
from datetime import datetime

from tasks import conf
from tasks.models import Task, TaskStatus, Worker, WorkerState
from tasks.telemetry import counters
from tasks.telemetry.summary import QueueSummary

CRITICAL, WARNING, INFO = "critical", "warning", "info"
HELD_SHOWN = 20  # tasks of lost workers listed on the overview
# Dead letters "rising": at least RISING_MIN in the last RECENT full minutes, and
# at least RISING_FACTOR times the rate of the minutes before them.
RECENT, RISING_MIN, RISING_FACTOR = 10, 5, 2.0


@dataclass(frozen=True)
class Alarm:
    code: str
    severity: str
    message: str
    queue: str = ""
    held: list = field(default_factory=list)  # a lost worker's tasks: Task rows (id, type, worker_id, started_at)


def alarms(now: datetime, queues: list[QueueSummary], minutes: list[dict]) -> list[Alarm]:
    """Every alarm, most severe first. `queues` is summary.queues(now), `minutes`
    the full minutes of the last hour (counters.per_minute, oldest first)."""
    alive = list(Worker.objects.alive(now))
    pending = sum(q.counts[TaskStatus.PENDING] for q in queues)
    processing = sum(q.counts[TaskStatus.PROCESSING] for q in queues)
    running = sum(w.state != WorkerState.PAUSED for w in alive)
    found = _fleet(len(alive), running, pending, processing) + _lost(now, alive) + _queues(queues, alive)
    if rise := dead_letters_rising([m["failed"] for m in minutes]):
        recent, before = rise
        found.append(Alarm("dead_letters_rising", WARNING,
                           f"Dead letters are rising: {recent} in the last {RECENT} minutes, against "
                           f"{before:g} per {RECENT} minutes in the {len(minutes) - RECENT} minutes before."))
    order = {CRITICAL: 0, WARNING: 1, INFO: 2}
    return sorted(found, key=lambda alarm: order[alarm.severity])


def fleet_problems(now: datetime, *, alive: int, paused: int) -> list[str]:
    """What keeps waiting tasks from running, for /api/health; costs a query
    only when no live worker is running."""
    if alive and paused < alive:
        return []
    totals = _totals()
    return [alarm.message for alarm in _fleet(alive, alive - paused, totals.get(TaskStatus.PENDING, 0),
                                              totals.get(TaskStatus.PROCESSING, 0))]


def dead_letters_rising(failed_per_minute: list[int]) -> tuple[int, float] | None:
    """(failures in the last RECENT minutes, the same span's average before them)
    when dead letters are rising, else None."""
    recent = sum(failed_per_minute[-RECENT:])
    earlier = failed_per_minute[:-RECENT]
    before = sum(earlier) * RECENT / len(earlier) if earlier else 0.0
    if recent >= RISING_MIN and recent >= RISING_FACTOR * before:
        return recent, round(before, 1)
    return None


def _fleet(alive: int, running: int, pending: int, processing: int) -> list[Alarm]:
    if not alive and (pending or processing):
        return [Alarm("no_worker", CRITICAL,
                      f"No worker is alive while {_tasks(pending)} pending and {processing} processing: nothing "
                      "runs, and nothing rescues the processing ones, until a worker starts "
                      "(python manage.py worker).")]
    if alive and not running and pending:
        return [Alarm("workers_paused", CRITICAL,
                      f"Every live worker is paused while {_tasks(pending)} pending: resume one on the Workers page.")]
    return []


def _lost(now: datetime, alive: list[Worker]) -> list[Alarm]:
    """One alarm per worker that holds processing tasks but no longer heartbeats."""
    held = list(Task.objects.filter(status=TaskStatus.PROCESSING).exclude(worker_id__in=[w.pk for w in alive])
                .only("id", "type", "worker_id", "started_at").order_by("started_at")[:HELD_SHOWN])
    if not held:
        return []
    by_worker: dict = {}
    for task in held:
        by_worker.setdefault(task.worker_id, []).append(task)
    known = {w.pk: w for w in Worker.objects.filter(pk__in=list(by_worker))}
    rescue = (f"live workers rescue them within {conf.get('WORKER_TIMEOUT') + conf.get('RESCUE_INTERVAL'):g} s"
              if alive else "no worker is alive to rescue them: start one")
    found = []
    for worker_id, tasks in by_worker.items():
        worker = known.get(worker_id)
        name = f"Worker {worker.name}" if worker else f"Worker {worker_id} (its row is gone)"
        silent = f" stopped heartbeating {int((now - worker.last_heartbeat).total_seconds())} s ago and" if worker else ""
        more = "" if len(held) < HELD_SHOWN else " (at least)"
        found.append(Alarm("lost_worker", CRITICAL,
                           f"{name}{silent} still holds {_tasks(len(tasks))}{more} in processing; {rescue}.", held=tasks))
    return found


def _queues(queues: list[QueueSummary], alive: list[Worker]) -> list[Alarm]:
    threshold = conf.get("ALARM_PENDING_AGE")
    served = {name for w in alive if w.state == WorkerState.RUNNING for name in w.queues}
    found = []
    for q in queues:
        pending = q.counts[TaskStatus.PENDING]
        if q.paused:
            found.append(Alarm("paused_queue", WARNING if pending else INFO,
                               f"Queue {q.name} is paused" + (f" with {_tasks(pending)} pending." if pending else "."),
                               queue=q.name))
            continue
        if pending and alive and "*" not in served and q.name not in served:
            found.append(Alarm("unserved_queue", WARNING,
                               f"Queue {q.name} has {_tasks(pending)} pending but no running worker serves it.",
                               queue=q.name))
        if threshold and q.oldest_pending_age and q.oldest_pending_age > threshold:
            found.append(Alarm("old_pending", WARNING,
                               f"Queue {q.name}: the oldest pending task has waited {_minutes(q.oldest_pending_age)} "
                               f"(the alarm is set at {_minutes(threshold)}).", queue=q.name))
    return found


def _tasks(count: int) -> str:
    return f"{count} task{'' if count == 1 else 's'}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _totals() -> dict[str, int]:
    totals: dict[str, int] = {}
    for statuses in counters.counts().values():
        for status, count in statuses.items():
            totals[status] = totals.get(status, 0) + count
    return totals
