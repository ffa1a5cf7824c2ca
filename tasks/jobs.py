"""The values that travel between the queue's statements and the worker's slots.

A claim returns Jobs; a slot answers each with an Outcome; a failed attempt,
with the retry policy's verdict applied, is a Failure. They live here, below
both tasks.queue and tasks.worker, so that neither imports the other for them.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed task, as a slot needs it."""

    id: UUID
    type: str
    payload_json: str | None
    queue: str
    priority: int
    attempt: int
    retry_count: int
    max_retries: int
    timeout: float
    worker_id: UUID
    retry_backoff: float | None = None  # the task's backoff base; None uses QUEUE_RETRY_BASE
    # Epoch seconds: when the task was enqueued, and when it was due (for Python
    # tasks, whose TaskResult says both).
    created_at: float = 0.0
    run_at: float = 0.0

    @property
    def payload(self) -> Any:
        return None if self.payload_json is None else json.loads(self.payload_json)

    @property
    def label(self) -> str:
        """How log lines describe the job: id, type, queue, priority and attempt."""
        return (
            f"task {self.id} (type: {self.type}, queue: {self.queue}, priority: {self.priority}, "
            f"attempt: {self.retry_count + 1}/{self.max_retries + 1})"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one attempt; times are epoch seconds."""

    id: UUID
    attempt: int
    ok: bool
    result_json: str | None
    error: dict | None
    started_at: float
    finished_at: float


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt, with the retry policy's verdict applied."""

    job: Job
    worker_id: UUID
    status: str
    run_at: datetime | None
    retry_count: int
    error: dict
    started_at: datetime | None
    completed_at: datetime | None
