from .event import Event, EventCursor, EventName, EventStream, MetricCount
from .schedule import MissedTicks, Schedule
from .stats import StatCount, StatDelta, StatMinute
from .task import (
    ACTIVE_STATUSES,
    CANCELLABLE_STATUSES,
    FINISHED_STATUSES,
    RETRYABLE_STATUSES,
    Task,
    TaskQuerySet,
    TaskStatus,
)
from .throttle import RateWindow
from .webhook import DeliveryStatus, WebhookDelivery
from .worker import Queue, Worker, WorkerState

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLABLE_STATUSES",
    "FINISHED_STATUSES",
    "MissedTicks",
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
    "StatCount",
    "StatDelta",
    "StatMinute",
    "Task",
    "TaskQuerySet",
    "TaskStatus",
    "WebhookDelivery",
    "Worker",
    "WorkerState",
]
