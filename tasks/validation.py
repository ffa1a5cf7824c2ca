"""Checks on a task before it is written, shared by the Python API and the REST API.

Each failure names the field and says why, in a sentence.
"""

import json
import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from django.utils import timezone

from tasks import conf
from tasks.handlers import registry
from tasks.webhooks.http import UnsafeURL, check_url

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
# A queue's partition_by: a dotted path into the payload (customer.id).
PARTITION_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
MAX_RETRIES = 100
MAX_TIMEOUT = 7 * 86400
_url = URLValidator(schemes=["http", "https"])


def validate_task(task, *, exposed_only: bool = False) -> None:
    """Raise ValidationError({field: [message]}) for every bad field of an unsaved task."""
    bad_type = type_error(task.type, exposed_only=exposed_only)
    problems = [
        ("type", bad_type),
        ("payload", None if bad_type else payload_error(task.type, task.payload)),
        ("queue", queue_error(task.queue)),
        ("priority", priority_error(task.priority)),
        ("max_retries", max_retries_error(task.max_retries)),
        ("timeout", timeout_error(task.timeout)),
        ("retry_backoff", retry_backoff_error(task.retry_backoff)),
        ("webhook", webhook_error(task.webhook)),
        ("metadata", metadata_error(task.metadata)),
        ("unique_key", key_error(task.unique_key)),
        ("idempotency_key", key_error(task.idempotency_key)),
        ("partition_key", key_error(task.partition_key)),
        ("ordering_key", key_error(task.ordering_key)),
    ]
    errors = {field: [message] for field, message in problems if message}
    if errors:
        raise ValidationError(errors)


def metadata_error(value) -> str | None:
    """A JSON object (or nothing), within the payload's size and depth limits."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return "metadata must be a JSON object, for example {\"user_id\": \"123\"}."
    if message := shape_error(value, conf.get("MAX_PAYLOAD_DEPTH")):
        return message
    size = len(json.dumps(value).encode())
    if size > (limit := conf.get("MAX_PAYLOAD_BYTES")):
        return f"metadata is {size} bytes; the limit is {limit} bytes."
    return None


def key_error(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        return "The key must be 1 to 255 characters long."
    if message := text_error(value):
        return f"The key {message}"
    return None


def run_at_error(value) -> str | None:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return "The time must include a time zone, for example 2030-01-01T09:00:00Z."
    return None


def type_error(name, *, exposed_only: bool = False) -> str | None:
    if not isinstance(name, str) or not name:
        return "A task type is required."
    handler = registry.find(name)
    if handler is None or (exposed_only and not handler.exposed):
        known = ", ".join(registry.exposed_names())
        return f"Unknown task type {name!r}. Registered types: {known}."
    return None


def payload_error(type_name: str, payload) -> str | None:
    if payload is None:
        return _validated(type_name, payload)
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = None
    # The quick way, for the usual payload: ASCII text without escapes holds no
    # NUL and no lone surrogate, and fewer brackets than the depth limit cannot
    # nest past it, so the JSON text alone says the payload is fine (and its size).
    if text is not None and "\\u" not in text and text.count("[") + text.count("{") <= conf.get("MAX_PAYLOAD_DEPTH"):
        limit = conf.get("MAX_PAYLOAD_BYTES")
        if len(text) > limit:
            return f"The payload is {len(text)} bytes; the limit is {limit} bytes."
        return _validated(type_name, payload)
    # Shape first: it walks without recursion, so a deep or circular payload is
    # refused before json.dumps could recurse past Python's limit.
    if message := shape_error(payload, conf.get("MAX_PAYLOAD_DEPTH")):
        return message
    try:
        size = len(json.dumps(payload, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        return f"The payload must be JSON: {exc}."
    limit = conf.get("MAX_PAYLOAD_BYTES")
    if size > limit:
        return f"The payload is {size} bytes; the limit is {limit} bytes."
    return _validated(type_name, payload)


def _validated(type_name: str, payload) -> str | None:
    """What the type's own validator says of the payload."""
    validate = registry.get(type_name).validate
    if validate is not None:
        try:
            validate(payload)
        except ValueError as exc:
            return str(exc)
    return None


def shape_error(payload, max_depth: int) -> str | None:
    """Nesting deeper than `max_depth` containers, or text PostgreSQL cannot store."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if message := text_error(value):
                return f"The payload {message}"
        elif isinstance(value, dict | list | tuple):
            if depth > max_depth:
                return f"The payload nests deeper than {max_depth} levels of objects and arrays."
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value if isinstance(key, str))
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


def text_error(value: str) -> str | None:
    """Why PostgreSQL could not store `value` as text or in jsonb, if it could not."""
    if "\x00" in value:
        return "contains the NUL character (\\u0000), which PostgreSQL cannot store; remove it."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid Unicode; send well-formed text."
    return None


def queue_error(name) -> str | None:
    if not isinstance(name, str) or not QUEUE_NAME.match(name):
        return "A queue name is 1 to 100 letters, digits or the characters _ . : -"
    return None


def priority_error(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "Priority must be a whole number."
    if not TASK_MIN_PRIORITY <= value <= TASK_MAX_PRIORITY:
        return f"Priority must be between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}; higher runs first."
    return None


def max_retries_error(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        return f"max_retries must be a whole number from 0 to {MAX_RETRIES}."
    return None


def timeout_error(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT:
        return f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT}."
    return None


def retry_backoff_error(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT:
        return f"retry_backoff must be a number of seconds above 0 and at most {MAX_TIMEOUT}."
    return None


def webhook_error(url) -> str | None:
    if not url:
        return None
    if not isinstance(url, str) or len(url) > 2000:
        return "The webhook must be an http(s) URL of at most 2000 characters."
    try:
        _url(url)
    except ValidationError:
        return "The webhook must be an http(s) URL, for example https://example.com/hook."
    try:
        check_url(url, resolve=False)
    except UnsafeURL as exc:
        return str(exc)
    return None
