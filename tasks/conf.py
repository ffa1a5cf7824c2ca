"""The queue's settings: `get("RETRY_BASE")` is TASK_QUEUE["RETRY_BASE"], which
settings.py reads from the environment variable QUEUE_RETRY_BASE (every name
is its variable without the QUEUE_ prefix). Read at call time, so that tests
can override them."""

from typing import Any

from django.conf import settings


def get(name: str) -> Any:
    return settings.TASK_QUEUE[name]
