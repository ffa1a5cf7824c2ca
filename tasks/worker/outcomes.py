"""Outcomes waiting to be recorded: logged as they arrive, flushed in batches.

The worker's loop buffers each finished attempt here; the recorder thread
writes a whole batch in one statement once FLUSH_SIZE are waiting or the
oldest has waited FLUSH_INTERVAL (or at once while stopping). A batch the
database refused comes back and waits for the next flush, in front.
"""

import logging
import time
from datetime import datetime

from tasks import conf, queue
from tasks.jobs import Failure, Job, Outcome
from tasks.telemetry.logs import task_fields

logger = logging.getLogger("tasks.worker")


class Outcomes:
    def __init__(self) -> None:
        self.done: list[Outcome] = []  # completed, not yet recorded
        self.failed: list[Failure] = []  # failed, not yet recorded
        self.since = 0.0  # monotonic time the oldest waiting outcome arrived
        self.finished = 0  # attempts finished by this worker
        self.unreported = [0, 0]  # completed, failed since the last heartbeat
        self.freed: set[str] = set()  # queues of the attempts finished since the last take

    def __bool__(self) -> bool:
        return bool(self.done or self.failed)

    def completed(self, slot: int, job: Job, outcome: Outcome) -> None:
        logger.info("Worker %s completed task %s", slot, job.id,
                    extra=task_fields(job, duration=round(outcome.finished_at - outcome.started_at, 6)))
        self._add(self.done, outcome)
        self.freed.add(job.queue)
        self.unreported[0] += 1
        self.finished += 1

    def failed_attempt(self, slot: int, job: Job, error: dict, *, started_at: datetime | None, now: datetime) -> None:
        """A failed attempt, with the retry policy's verdict: logged as "failed", then "retrying" or "dead letter"."""
        failure = queue.failure(job, error, now, started_at=started_at)
        fields = task_fields(job, error_type=error["type"])
        logger.warning("Worker %s task %s failed: %s: %s", slot, job.id, error["type"].rsplit(".", 1)[-1],
                       error["message"], extra=fields)
        if failure.run_at is not None:
            logger.warning("Worker %s retrying task %s at %s (retry %s/%s)", slot, job.id,
                           failure.run_at.isoformat(timespec="seconds"), failure.retry_count, job.max_retries,
                           extra=fields)
        else:
            logger.error("Worker %s task %s failed for good after %s attempt(s); it is now a dead letter",
                         slot, job.id, job.retry_count + 1, extra=fields)
        self._add(self.failed, failure)
        self.freed.add(job.queue)
        self.unreported[1] += 1
        self.finished += 1

    def interrupted(self, slot: int, job: Job, now: datetime) -> None:
        """A task cut short at the end of the shutdown grace: back to pending, no retry used."""
        logger.warning("Worker %s: task %s did not finish within the grace period; it will run again",
                       slot, job.id, extra=task_fields(job))
        self._add(self.failed, queue.interrupted(job, now))

    def due(self, *, stopping: bool) -> bool:
        waiting = len(self.done) + len(self.failed)
        if not waiting:
            return False
        if waiting >= conf.get("FLUSH_SIZE") or stopping:
            return True
        return time.monotonic() - self.since >= conf.get("FLUSH_INTERVAL")

    def deadline(self) -> float:
        return self.since + conf.get("FLUSH_INTERVAL")

    def take(self) -> tuple[list[Outcome], list[Failure]]:
        batch = self.done, self.failed
        self.done, self.failed = [], []
        return batch

    def frees(self, limited: frozenset[str]) -> bool:
        """Whether a waiting outcome frees room in a limited queue: worth recording now,
        not after FLUSH_INTERVAL, since other tasks wait for that room."""
        return bool(limited) and not self.freed.isdisjoint(limited)

    def take_freed(self, limited: frozenset[str]) -> list[str]:
        """The limited queues whose tasks finished since the last call."""
        freed, self.freed = self.freed, set()
        return sorted(freed & limited) if limited else []

    def put_back(self, done: list[Outcome], failed: list[Failure]) -> None:
        if (done or failed) and not self:
            self.since = time.monotonic()
        self.done = done + self.done
        self.failed = failed + self.failed

    def _add(self, buffer: list, item) -> None:
        if not self:
            self.since = time.monotonic()
        buffer.append(item)
