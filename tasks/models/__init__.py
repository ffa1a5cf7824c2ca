"""Rows and the QuerySet vocabulary for reading them. Nothing here changes a
task's status (tasks.queue does) or imports tasks.queue."""

from .api_key import ApiKey
from .audit import AuditEntry, Source
from .event import Event, EventCursor, EventName, EventStream, MetricCount
from .queue import Queue
from .schedule import MissedTicks, Schedule
from .stat import StatCount, StatDelta, StatMinute
from .task import (
    ACTIVE_STATUSES,
    CANCELLABLE_STATUSES,
    FINISHED_STATUSES,
    RESCHEDULABLE_STATUSES,
    RETRYABLE_STATUSES,
    Task,
    TaskQuerySet,
    TaskStatus,
)
from .throttle import RateWindow
from .timing import TimingCount, TimingKind
from .webhook import DeliveryStatus, WebhookDelivery
from .worker import Worker, WorkerState
from .workflow import Batch, Dependency, Workflow

__all__ = [
    "ACTIVE_STATUSES",
    "ApiKey",
    "AuditEntry",
    "Batch",
    "Dependency",
    "CANCELLABLE_STATUSES",
    "FINISHED_STATUSES",
    "MissedTicks",
    "RESCHEDULABLE_STATUSES",
    "RETRYABLE_STATUSES",
    "DeliveryStatus",
    "Event",
    "EventCursor",
    "EventName",
    "EventStream",
    "MetricCount",
    "Queue",
    "RateWindow",
    "Schedule",
    "Source",
    "StatCount",
    "StatDelta",
    "StatMinute",
    "Task",
    "TaskQuerySet",
    "TaskStatus",
    "TimingCount",
    "TimingKind",
    "WebhookDelivery",
    "Worker",
    "WorkerState",
    "Workflow",
]
