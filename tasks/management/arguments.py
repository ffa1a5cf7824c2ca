"""How the operator commands read their arguments: payloads, times, weighted queues."""

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


def parse_queues(text: str) -> tuple[list[str], dict[str, int] | None]:
    """`a,b` or `*` (names), or `critical:6,default:3,low:1` (names with weights);
    ValueError says what is wrong. Weights are all given or none."""
    names, weights = [], {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, weight = item.partition(":")
        name = name.strip()
        if sep:
            if not weight.strip().isdigit() or int(weight) < 1:
                raise ValueError(f"The weight of queue {name!r} must be a whole number of at least 1, not {weight!r}.")
            weights[name] = int(weight)
        names.append(name)
    if not names:
        raise ValueError("--queues needs at least one queue name, or *.")
    if weights and len(weights) != len(names):
        raise ValueError("Give every queue a weight (critical:6,default:3,low:1) or none.")
    if weights and "*" in names:
        raise ValueError("* cannot take a weight: name the queues to weigh them.")
    return names, weights or None
