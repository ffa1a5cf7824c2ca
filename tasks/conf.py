"""Access to the TASK_QUEUE settings, read at call time so tests can override them."""

from typing import Any

from django.conf import settings


def get(name: str) -> Any:
    return settings.TASK_QUEUE[name]
