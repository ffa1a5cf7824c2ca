from .event import Event, EventCursor, EventName, EventStream, MetricCount
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
from .webhook import DeliveryStatus, WebhookDelivery
from .worker import Queue, Worker, WorkerState

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLABLE_STATUSES",
    "FINISHED_STATUSES",
    "RETRYABLE_STATUSES",
    "DeliveryStatus",
    "Event",
    "EventCursor",
    "EventName",
    "EventStream",
    "MetricCount",
    "Queue",
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
