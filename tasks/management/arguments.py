"""How the operator commands read their arguments: payloads and times."""

import json
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime


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
