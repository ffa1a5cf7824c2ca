"""Structured logging: the fields every log line about a task carries, and the
JSON formatter that LOG_FORMAT=json selects.

Worker log calls pass `extra=task_fields(job)`, and a filter adds the same
fields to whatever a handler logs while it runs. The plain format keeps the
human text ("Worker 1 processing task ... (type: email, ...)"), and the JSON format emits the same message with
task_id, task_type, queue, attempt and worker_id as fields of their own.
"""

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from tasks.context import current_job_or_none
from tasks.jobs import Job


def task_fields(job: Job, **more: Any) -> dict[str, Any]:
    """`extra=` for a log call about `job`."""
    return {
        "task_id": str(job.id), "task_type": job.type, "queue": job.queue,
        "attempt": job.attempt, "worker_id": str(job.worker_id), **more,
    }


class TaskContextFilter(logging.Filter):
    """Adds the running job's fields to lines logged by task code in a slot
    process, which knows nothing of them."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job_or_none()
        if job is not None and not hasattr(record, "task_id"):
            record.__dict__.update(task_fields(job))
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, then any extra fields."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601, UTC
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)
