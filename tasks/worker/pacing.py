"""How much work a worker holds, and how much it sends to a slot in one message.

Both follow moving averages of how long tasks run, overall and per type:

- A worker holds about HOLD_WORK seconds of expected work per slot (claimed,
  queued or running), so that slots do not run dry while a claim makes its
  round trip; a slot of slow tasks holds one, plus the prefetch.
- Jobs go to a slot in batches of about BATCH_WORK seconds of expected work: a
  batch of short tasks costs one message, while a task of a type that takes
  that long or more, or of a type not seen yet, travels alone, and nothing
  waits behind it in its slot.
"""

import math
from collections import deque

from tasks.jobs import Job

BATCH_WORK = 0.002
HOLD_WORK = 0.02
SMOOTHING = 0.1  # weight of the newest run time in the moving averages


class Pacer:
    def __init__(self, *, concurrency: int, prefetch: int, slot_batch: int, claim_batch: int) -> None:
        self.concurrency = concurrency
        self.prefetch = prefetch  # -1: as many as are running
        self.slot_batch = max(1, slot_batch)
        self.claim_batch = claim_batch
        self.task_seconds: float | None = None
        self.type_seconds: dict[str, float] = {}

    def observe(self, job: Job, seconds: float) -> None:
        """Take in how long `job` ran."""
        self.task_seconds = _average(self.task_seconds, seconds)
        self.type_seconds[job.type] = _average(self.type_seconds.get(job.type), seconds)

    def expected(self, job: Job) -> float:
        """How long `job` will probably run; a type not seen yet counts as a full batch."""
        return self.type_seconds.get(job.type, BATCH_WORK)

    def capacity(self) -> int:
        """Tasks the worker holds at most: enough per slot, plus the prefetch."""
        per_slot = 1
        if self.task_seconds is not None:
            per_slot = max(1, min(self.claim_batch, math.ceil(HOLD_WORK / max(self.task_seconds, 1e-6))))
        running = self.concurrency * per_slot
        return running + (running if self.prefetch < 0 else self.prefetch)

    def claim_size(self, *, backlog: int, queued: int, allowed: int | None = None) -> int:
        """How many tasks to claim now, holding `backlog` claimed and `queued` in
        slots; `allowed` caps it (what is left of --max-tasks)."""
        capacity = self.capacity()
        room = capacity - backlog - queued
        if allowed is not None:
            room = min(room, allowed)
        # Top up in batches: a claim per freed slot would cost a round trip per task.
        if room <= 0 or (backlog and room < capacity // 2):
            return 0
        return min(room, self.claim_batch)

    def wants_more(self, held: list[Job]) -> bool:
        """A slot takes more while what it holds is at most half a batch of work,
        so that it does not wait for the next message."""
        return sum(map(self.expected, held)) <= BATCH_WORK / 2

    def take(self, backlog: deque[Job], limit: int) -> list[Job]:
        """Up to `limit` jobs from the front of `backlog`, about a batch of work."""
        limit = min(limit, self.slot_batch)
        jobs, work = [], 0.0
        while backlog and len(jobs) < limit:
            seconds = self.expected(backlog[0])
            if jobs and work + seconds > BATCH_WORK:
                break
            jobs.append(backlog.popleft())
            work += seconds
        return jobs


def _average(current: float | None, sample: float) -> float:
    return sample if current is None else (1 - SMOOTHING) * current + SMOOTHING * sample
