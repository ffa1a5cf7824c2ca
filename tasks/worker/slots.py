"""The worker's slots, from the supervisor's side: hand out jobs, collect
outcomes, and replace processes that die, hang past their timeout or have run
their share (tasks/worker/slot.py is one slot and its child process).

The backlog (claimed jobs waiting for a slot) and the outcome buffer are the
worker's; this class takes jobs from the one and feeds the other.
"""

import logging
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime

from django.utils import timezone

from tasks import conf
from tasks.exceptions import SlotCrashed, TaskTimeout, untraced
from tasks.jobs import Job
from tasks.telemetry.logs import task_fields
from tasks.worker.outcomes import Outcomes
from tasks.worker.pacing import Pacer
from tasks.worker.slot import Slot

logger = logging.getLogger("tasks.worker")


class Slots:
    def __init__(self, concurrency: int, *, backlog: deque[Job], outcomes: Outcomes, pacer: Pacer) -> None:
        self.concurrency = concurrency
        self.backlog = backlog
        self.outcomes = outcomes
        self.pacer = pacer
        self.all: list[Slot] = []

    def start(self) -> None:
        self.all = [
            Slot(i + 1, memory_limit_mb=conf.get("CHILD_MEMORY_LIMIT_MB"), max_tasks=conf.get("MAX_TASKS_PER_CHILD"))
            for i in range(self.concurrency)
        ]

    def __iter__(self) -> Iterator[Slot]:
        return iter(self.all)

    @property
    def busy(self) -> int:
        """How many slots have a job."""
        return sum(slot.busy for slot in self.all)

    @property
    def queued(self) -> int:
        """Jobs sent to slots and not finished (running or waiting in a slot)."""
        return sum(len(slot.jobs) for slot in self.all)

    def dispatch(self) -> None:
        """Share the backlog among the slots that want more."""
        if not self.backlog:
            return
        grace = conf.get("TIMEOUT_GRACE")
        ready = [slot for slot in self.all if slot.room() and self.pacer.wants_more(slot.jobs)]
        for n, slot in enumerate(ready):
            share = -(-len(self.backlog) // (len(ready) - n))  # an even share of what is left
            jobs = self.pacer.take(self.backlog, min(share, self.pacer.slot_batch - len(slot.jobs), slot.room()))
            if not jobs:
                continue
            if not slot.send(jobs, grace):  # the process just died: these go elsewhere
                self.backlog.extendleft(reversed(jobs))
                continue
            for job in jobs:
                logger.info("Worker %s processing %s", slot.index, job.label, extra=task_fields(job))

    def handle(self, ready: set) -> None:
        """Take in what the slots' pipes and process sentinels among `ready` say."""
        for slot in self.all:
            if slot.busy and (slot.conn in ready or slot.sentinel in ready):
                self._collect(slot)
            elif slot.sentinel in ready:
                logger.warning("Worker %s: idle slot process died (%s); replacing it", slot.index, slot.exit_description())
                slot.replace()

    def _collect(self, slot: Slot) -> None:
        finished, dropped, died = slot.receive()
        for job, outcome in finished:
            self.pacer.observe(job, outcome.finished_at - outcome.started_at)
            if outcome.ok:
                self.outcomes.completed(slot.index, job, outcome)
            else:
                started = datetime.fromtimestamp(outcome.started_at, UTC)
                self.outcomes.failed_attempt(slot.index, job, outcome.error, started_at=started, now=timezone.now())
        self.backlog.extendleft(reversed(dropped))  # never started: handed back, or run elsewhere
        if not died:
            return
        if not slot.busy:
            logger.warning("Worker %s: idle slot process died (%s); replacing it", slot.index, slot.exit_description())
            slot.replace()
            return
        reason = slot.exit_description()
        logger.error("Worker %s: process running task %s died (%s); replacing it", slot.index, slot.job.id, reason,
                     extra=task_fields(slot.job))
        self._fail_running(slot, untraced(SlotCrashed, f"The process running the task exited unexpectedly ({reason})."))

    def enforce_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self.all:
            if slot.busy and now >= slot.deadline:
                job = slot.job
                logger.error("Worker %s: task %s exceeded its timeout of %ss; replacing its process", slot.index, job.id,
                             job.timeout, extra=task_fields(job))
                self._fail_running(slot, untraced(
                    TaskTimeout, f"The task ran longer than its timeout of {job.timeout:g} seconds and did not "
                    f"stop when interrupted; its process was replaced."))

    def _fail_running(self, slot: Slot, error: dict) -> None:
        """The slot's process died or was given up on: a new one replaces it, the jobs
        queued behind the running one go back to the backlog, and the running one's
        attempt failed with `error`."""
        job = slot.job
        self.backlog.extendleft(reversed(slot.take_unstarted()))
        slot.replace()
        self.outcomes.failed_attempt(slot.index, job, error, started_at=None, now=timezone.now())

    def recycle(self) -> None:
        """Replace idle processes that have run QUEUE_MAX_TASKS_PER_CHILD tasks."""
        for slot in self.all:
            if slot.needs_recycling():
                slot.stop()
                slot.start()
