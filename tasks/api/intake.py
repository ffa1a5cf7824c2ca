"""New tasks from request bodies, checked without DRF's per-field machinery.

POST /api/tasks and POST /api/tasks/bulk describe a task with
TaskCreateSerializer. Its fields are built, deep-copied and run one by one for
every task: most of the time of a single POST, and about 0.1 ms per task of a
bulk request. The functions here accept a body only when they can see that the
serializer would accept it unchanged (every field of the JSON type and within
the bounds it checks, text without the surrounding whitespace it would trim or
the characters it refuses), and build the same task with `queue.build`. For
anything else they return None, and the view asks the serializer, whose
answer (its error messages, its field names) is the API's. tests/test_api_intake.py
holds them to that: whatever they accept, the serializer accepts the same way.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY

from tasks import conf, queue, validation
from tasks.models import Task

FIELDS = frozenset({"type", "payload", "priority", "max_retries", "scheduled_for", "webhook", "queue", "timeout",
                    "metadata"})
WITH_KEY = FIELDS | {"idempotency_key"}


def new_task(data: Any, *, idempotency: bool = True) -> Task | None:
    """The task a create body describes, when it is plainly valid; None otherwise."""
    if not isinstance(data, dict) or not data.keys() <= (WITH_KEY if idempotency else FIELDS):
        return None
    if data.get("scheduled_for") is not None:
        return None  # time parsing and its messages stay the serializer's
    kind, name, webhook = data.get("type"), data.get("queue", "default"), data.get("webhook", "")
    priority, retries = data.get("priority", 0), data.get("max_retries")
    timeout, key, metadata = data.get("timeout"), data.get("idempotency_key"), data.get("metadata")
    if not (_text(kind, 100) and _text(name, 100) and validation.QUEUE_NAME.match(name)
            and (webhook == "" or _text(webhook, 2000) and not validation.webhook_error(webhook))
            and _whole(priority, TASK_MIN_PRIORITY, TASK_MAX_PRIORITY)
            and (retries is None or _whole(retries, 0, validation.MAX_RETRIES))
            and (timeout is None or _number(timeout, validation.MAX_TIMEOUT))
            and (key is None or _text(key, 255))
            and (metadata is None or type(metadata) is dict and validation.metadata_error(metadata) is None)
            and not validation.type_error(kind, exposed_only=True)):
        return None
    try:
        return queue.build(kind, data.get("payload"), queue=name, priority=priority, max_retries=retries,
                           timeout=None if timeout is None else float(timeout), webhook=webhook,
                           idempotency_key=key, metadata=metadata)
    except ValidationError:
        return None


def new_tasks(data: Any) -> list[Task] | None:
    """The tasks of a bulk body ({"tasks": [...]}), when every one is plainly valid; None otherwise."""
    if not isinstance(data, dict) or data.keys() != {"tasks"}:
        return None
    items = data["tasks"]
    if not isinstance(items, list) or not 0 < len(items) <= conf.get("BULK_MAX"):
        return None
    tasks = []
    for item in items:
        task = new_task(item, idempotency=False)
        if task is None:
            return None
        tasks.append(task)
    return tasks


def _text(value: Any, max_length: int) -> bool:
    """Non-empty text the serializer keeps as it is: no surrounding whitespace
    (it would trim it), nothing PostgreSQL cannot store (it refuses that)."""
    return (isinstance(value, str) and 0 < len(value) <= max_length and value == value.strip()
            and validation.text_error(value) is None)


def _whole(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _number(value: Any, high: float) -> bool:
    return type(value) in (int, float) and 0 < value <= high
