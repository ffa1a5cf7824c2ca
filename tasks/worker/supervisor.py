"""The worker's supervisor: it claims tasks in batches and runs them in slots.

A select loop hands jobs to slot processes, collects their outcomes, heartbeats
and listens for NOTIFY. Two database threads (database_thread.py), each on its
own connection, do the hot path's statements so that the loop never waits for
them: one claims up to the free capacity (plus a prefetch) in one statement,
the other records outcomes in batched statements flushed within a few
milliseconds. Claims do not queue behind completions, so slots stay fed. Short
tasks go to slots several at a time, sized from how long tasks have been
taking (pacing.py); slots.py hands them out and replaces slot
processes that die or hang. A housekeeping thread runs the chores; a sender
thread delivers webhooks.

Stopping (SIGTERM or SIGINT): claim nothing more, hand back what was claimed
but not started, let running tasks finish within the grace period, then exit 0.
A second Ctrl-C ends the grace period at once.
"""

import logging
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait

from django.utils import timezone
from uuid6 import uuid7

from tasks import conf, queue
from tasks.db import CHANNEL, CONTROL_CHANNEL, raw_cursor
from tasks.jobs import Job
from tasks.maintenance.housekeeper import Housekeeper
from tasks.models import Worker, WorkerState
from tasks.webhooks.outbox import WebhookSender
from tasks.worker.claimer import Claimer
from tasks.worker.database_thread import DatabaseThread, Request, Result
from tasks.worker.listener import Listener
from tasks.worker.outcomes import Outcomes
from tasks.worker.pacing import Pacer
from tasks.worker.patience import Patience
from tasks.worker.slots import Slots

logger = logging.getLogger("tasks.worker")


class Supervisor:
    """Run tasks until stopped. `burst` exits once nothing is runnable;
    `max_tasks` exits after that many tasks."""

    def __init__(
        self,
        *,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
        max_tasks: int | None = None,
        housekeeping: bool = True,
        listen: bool | None = None,
        weights: dict[str, int] | None = None,
        strict_priority: bool = False,
    ) -> None:
        queues = queues if queues is not None else conf.get("WORKER_QUEUES")
        self.queues = None if "*" in queues else list(queues)
        self.weights = weights
        self.strict_priority = strict_priority
        self.limited: frozenset[str] = frozenset()  # its queues under flow control, as the last claim saw
        self.rate_wake = float("inf")  # monotonic time a rate-limited queue opens again
        self.concurrency = concurrency or conf.get("CONCURRENCY")
        self.pacer = Pacer(concurrency=self.concurrency, prefetch=conf.get("PREFETCH"),
                           slot_batch=conf.get("SLOT_BATCH"), claim_batch=conf.get("CLAIM_BATCH"))
        self.burst = burst
        self.max_tasks = max_tasks
        self.housekeeping = housekeeping
        self.listen = conf.get("LISTEN") if listen is None else listen
        self.id = uuid7()
        self.state = WorkerState.RUNNING
        self.stopping = False
        self.grace_deadline = 0.0

        self.backlog: deque[Job] = deque()  # claimed, waiting for a free slot
        self.outcomes = Outcomes()
        self.slots = Slots(self.concurrency, backlog=self.backlog, outcomes=self.outcomes, pacer=self.pacer)
        self.claimed = 0
        self.maybe_more = True  # a claim may find work (notified, polled, or last claim was full)
        self.last_claim_empty = False
        self.empty_claims = 0
        self.claim_in_doubt = False  # a claim failed: it may have committed all the same
        self.next_poll = 0.0
        self.next_heartbeat = 0.0
        self.db = Patience(f"Worker {self.id}")

    # --- lifecycle ---------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        self._install_signal_handlers()
        # Listen before the row exists, so that no pause or wake-up sent once
        # operators can see this worker is missed.
        self.listener = Listener() if self.listen else None
        if self.listener:
            self.listener.connect()
        # Slots before the row (the fork server takes a second to import Django),
        # so that a row that says "running" belongs to a worker that can run tasks.
        self.slots.start()
        if not self._register():  # stopped while waiting for the database
            for slot in self.slots:
                slot.stop()
            return 0
        logger.info(
            "Worker %s started: queues %s, concurrency %s, pid %s",
            self.id, ",".join(self.queues or ["*"]), self.concurrency, os.getpid(),
        )
        claimer = Claimer(self.id, self.queues, weights=self.weights, strict=self.strict_priority)
        self.claimer = DatabaseThread(self.id, self.queues, name="claimer", claimer=claimer)
        self.recorder = DatabaseThread(self.id, self.queues, name="recorder")
        self.claimer.start()
        self.recorder.start()
        threads = [Housekeeper(), WebhookSender()] if self.housekeeping else []
        for thread in threads:
            thread.start()
        # Beat before the first claim: other workers must not take this one for
        # dead (and rescue what it claims) because its start-up was slow.
        self.db.run(self._heartbeat)
        try:
            while not self._should_exit():
                self._tick()
        finally:
            self._shutdown(threads)
        return 0

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop gracefully; a second Ctrl-C (SIGINT) ends the grace period at once."""
        if not self.stopping:
            logger.info("Worker %s stopping: finishing running tasks (grace %ss)", self.id, conf.get("SHUTDOWN_GRACE"))
            self.stopping = True
            self.grace_deadline = time.monotonic() + conf.get("SHUTDOWN_GRACE")
            self.next_heartbeat = 0.0
        elif signum == signal.SIGINT:
            logger.warning("Worker %s: second Ctrl-C, stopping running tasks now", self.id)
            self.grace_deadline = 0.0

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.request_stop(signum))

    def _register(self) -> bool:
        """Create this worker's row, waiting with backoff while the database is away;
        False if told to stop meanwhile."""
        while not self.stopping:
            if self.db.run(lambda: Worker.register(self.id, queues=self.queues or ["*"],
                                                      concurrency=self.concurrency)) is not None:
                return True
            time.sleep(max(0.05, min(1.0, self.db.retry_at - time.monotonic())))
        return False

    def _should_exit(self) -> bool:
        busy = self.slots.busy > 0
        if self.stopping:
            return not busy or time.monotonic() >= self.grace_deadline
        idle = (not busy and not self.backlog and not self.outcomes
                and not self.recorder.busy and not self.claimer.busy)
        if self.max_tasks is not None and self.claimed >= self.max_tasks and idle:
            return True
        # Burst: exit after two empty claims in a row, the second after promoting due tasks.
        return self.burst and idle and self.empty_claims >= 2

    def _shutdown(self, threads) -> None:
        self.state = WorkerState.STOPPING
        self._handle_events(0)
        self._apply(self.claimer.result(timeout=30))
        self._apply(self.recorder.result(timeout=30))
        now = timezone.now()
        for slot in self.slots:
            if slot.busy:
                self.backlog.extend(slot.take_unstarted())
                slot.kill()
                self.outcomes.interrupted(slot.index, slot.job, now)
                slot.jobs.clear()
        if self.outcomes and not self.recorder.busy:  # the last outcomes, as the others
            self.recorder.submit(Request(*self.outcomes.take(), 0, notify=self.outcomes.take_freed(self.limited)))
            self._apply(self.recorder.result(timeout=60))
        self.db.now()  # one last try, even in the middle of a backoff
        if self.claim_in_doubt and not self.claimer.busy and not self.recorder.busy:
            self._recover_lost_claim()  # what it finds is handed back with the rest
        self.db.run(lambda: queue.hand_back(raw_cursor(), self.id, self.backlog))
        self.backlog.clear()
        for slot in self.slots:
            slot.stop()
        self.claimer.stop()
        self.recorder.stop()
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(timeout=10)
        if self.listener:
            self.listener.close()
        self.db.now()
        processed, failed = self.outcomes.unreported
        self.db.run(lambda: Worker.mark_stopped(self.id, processed=processed, failed=failed))
        logger.info("Worker %s stopped after %s task(s)", self.id, self.outcomes.finished)

    # --- the loop ----------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self.next_poll:
            self.maybe_more = True
            self.next_poll = now + conf.get("POLL_INTERVAL")
        if now >= self.rate_wake:  # a rate-limited queue's window has room again
            self.maybe_more = True
            self.rate_wake = float("inf")
        if self.stopping:
            for slot in self.slots:
                slot.drop_queued()
        if self.stopping and self.backlog:
            # Kept until the database takes them back; until then they are still ours.
            if self.db.run(lambda: queue.hand_back(raw_cursor(), self.id, self.backlog)) is not None:
                self.backlog.clear()
        self._apply(self.claimer.result())
        if not self.stopping:  # stopping: the backlog goes back, not to slots
            self.slots.dispatch()
        self._handle_events(self._wait_time())
        self.slots.enforce_deadlines()
        self.slots.recycle()
        self._apply(self.claimer.result())
        self._apply(self.recorder.result())
        if self.claim_in_doubt and not self.claimer.busy and not self.recorder.busy:
            self._recover_lost_claim()
        self._submit()
        if time.monotonic() >= self.next_heartbeat:
            self.db.run(self._heartbeat)

    # --- the database, through the recorder thread ----------------------------

    def _submit(self) -> None:
        """Hand the database threads what is due: buffered outcomes, a claim if useful."""
        if self.db.waiting:
            return
        if not self.recorder.busy and (self.outcomes.due(stopping=self.stopping) or self.outcomes.frees(self.limited)):
            self.recorder.submit(Request(*self.outcomes.take(), 0, notify=self.outcomes.take_freed(self.limited)))
        if not self.claimer.busy and (claim := self._claim_size()):
            # The claim uses up this "maybe"; a NOTIFY or poll while it runs sets
            # it again, since the claim may have looked before that task committed.
            self.maybe_more = False
            self.claimer.submit(Request([], [], claim, promote_first=self.burst and self.last_claim_empty))

    def _claim_due(self) -> bool:
        """Whether _submit would send a claim now."""
        return not self.db.waiting and not self.claimer.busy and self._claim_size() > 0

    def _claim_size(self) -> int:
        if self.stopping or self.state == WorkerState.PAUSED or not self.maybe_more:
            return 0
        if self.burst and self.empty_claims >= 2 and not self.backlog and not self.slots.busy:
            return 0  # nothing runnable and nothing running: about to exit
        allowed = None if self.max_tasks is None else self.max_tasks - self.claimed
        return self.pacer.claim_size(backlog=len(self.backlog), queued=self.slots.queued, allowed=allowed)

    def _apply(self, result: Result | None) -> None:
        """Take in what the recorder did: claimed jobs, or a failure to retry later."""
        if result is None:
            return
        self.outcomes.put_back(result.unrecorded_done, result.unrecorded_failed)
        if result.error is not None:
            self.db.failed(result.error)
            self.claim_in_doubt = self.claim_in_doubt or result.request.claim > 0
            return
        self.db.succeeded()
        if result.request.notify:  # room freed in a limited queue: claim again without waiting for the NOTIFY
            self.maybe_more = True
        asked = result.request.claim
        if not asked:
            return
        jobs = result.jobs
        self.limited = result.limited
        if result.opens_in is not None:
            self.rate_wake = min(self.rate_wake, time.monotonic() + max(0.0, result.opens_in))
        self.claimed += len(jobs)
        self.backlog.extend(jobs)
        self.maybe_more = self.maybe_more or len(jobs) == asked or self.burst
        self.last_claim_empty = not jobs
        # Waiting on a rate limit is not "nothing runnable": burst mode waits for the window.
        self.empty_claims = 0 if jobs or result.opens_in is not None else self.empty_claims + 1

    def _recover_lost_claim(self) -> None:
        """After a claim failed on a broken connection, run what it claimed anyway.

        The claim commits on the server before its rows travel back; if the
        connection breaks in between, the rows are `processing` under this worker,
        which heartbeats on, so no rescue would ever take them. With no database
        request in flight, every such row this worker does not hold in memory
        comes from a lost answer."""
        known = [job.id for job in self.backlog]
        known += [job.id for slot in self.slots for job in slot.jobs]
        known += [outcome.id for outcome in self.outcomes.done] + [f.job.id for f in self.outcomes.failed]
        jobs = self.db.run(lambda: queue.held(raw_cursor(), self.id, known))
        if jobs is None:
            return
        self.claim_in_doubt = False
        if jobs:
            logger.warning("Worker %s: recovered %s task(s) claimed by a statement whose answer was lost",
                           self.id, len(jobs))
            self.claimed += len(jobs)
            self.backlog.extend(jobs)

    # --- waiting for something to happen ---------------------------------------

    def _wait_time(self) -> float:
        if self._claim_due():
            # A poll or a rate-limited queue's reopening (at the top of the tick) asks for
            # a claim, which _submit sends after this wait: waiting first delayed it by up
            # to a poll interval (a minute at 50 per 5 s started 9.17/s, not 10).
            return 0.0
        now = time.monotonic()
        deadlines = [self.next_poll, self.next_heartbeat, self.rate_wake]
        deadlines += [slot.deadline for slot in self.slots if slot.busy]
        if self.outcomes and not self.recorder.busy:
            deadlines.append(self.outcomes.deadline())
        if self.stopping:
            deadlines.append(self.grace_deadline)
        if self.db.retry_at > now:
            deadlines.append(self.db.retry_at)
        return max(0.0, min(deadlines) - now)

    def _handle_events(self, timeout: float) -> None:
        waitables = [slot.conn for slot in self.slots if slot.busy]
        waitables += [slot.sentinel for slot in self.slots]
        waitables += [self.claimer.wake_r, self.recorder.wake_r]
        if getattr(self, "_wake_r", None) is not None:
            waitables.append(self._wake_r)
        listening = self.listener is not None and self.listener.connect()
        if listening:
            waitables.append(self.listener.fileno())
        ready = set(wait(waitables, timeout))
        if getattr(self, "_wake_r", None) in ready:
            os.read(self._wake_r, 512)
        if listening:
            self._read_notifications()
        self.slots.handle(ready)

    def _read_notifications(self) -> None:
        notes = self.listener.drain()
        if notes is None:
            self.maybe_more = True
            return
        for note in notes:
            if note.channel == CHANNEL and (self.queues is None or note.payload in self.queues):
                self.maybe_more = True
            elif note.channel == CONTROL_CHANNEL and note.payload in ("*", str(self.id)):
                self.next_heartbeat = 0.0

    def _heartbeat(self) -> None:
        self.next_heartbeat = time.monotonic() + conf.get("HEARTBEAT_INTERVAL")
        processed, failed = self.outcomes.unreported
        wanted = Worker.beat(self.id, processed=processed, failed=failed, stopping=self.stopping,
                                busy=self.slots.busy)
        self.outcomes.unreported = [0, 0]
        if wanted is None:
            logger.warning("Worker %s: its row was deleted; registering again", self.id)
            self._register()
            return
        if wanted in (WorkerState.PAUSED, WorkerState.RUNNING) and wanted != self.state:
            self.state = WorkerState(wanted)
            logger.info("Worker %s %s", self.id, "paused" if wanted == WorkerState.PAUSED else "resumed")
            self.maybe_more = True
