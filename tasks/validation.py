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
from tasks.exceptions import UnknownTaskType
from tasks.handlers import registry
from tasks.webhooks.http import UnsafeURL, check_url

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
MAX_RETRIES = 100
MAX_TIMEOUT = 7 * 86400
_url = URLValidator(schemes=["http", "https"])


def validate_task(task, *, exposed_only: bool = False) -> None:
    """Raise ValidationError({field: [message]}) for every bad field of an unsaved task."""
    errors: dict[str, list[str]] = {}

    def check(field: str, message: str | None) -> None:
        if message:
            errors.setdefault(field, []).append(message)

    check("type", type_error(task.type, exposed_only=exposed_only))
    if "type" not in errors:
        check("payload", payload_error(task.type, task.payload))
    check("queue", queue_error(task.queue))
    check("priority", priority_error(task.priority))
    check("max_retries", max_retries_error(task.max_retries))
    check("timeout", timeout_error(task.timeout))
    check("retry_backoff", retry_backoff_error(task.retry_backoff))
    check("webhook", webhook_error(task.webhook))
    for field in ("unique_key", "idempotency_key"):
        value = getattr(task, field)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 255):
            check(field, "The key must be 1 to 255 characters long.")
        elif value is not None and (message := text_error(value)):
            check(field, f"The key {message}")
    if errors:
        raise ValidationError(errors)


def run_at_error(value) -> str | None:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return "The time must include a time zone, for example 2030-01-01T09:00:00Z."
    return None


def type_error(name, *, exposed_only: bool = False) -> str | None:
    if not isinstance(name, str) or not name:
        return "A task type is required."
    try:
        handler = registry.get(name)
    except UnknownTaskType:
        handler = None
    if handler is None or (exposed_only and not handler.exposed):
        known = ", ".join(registry.exposed_names())
        return f"Unknown task type {name!r}. Registered types: {known}."
    return None


def payload_error(type_name: str, payload) -> str | None:
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
