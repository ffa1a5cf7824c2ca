"""The worker: a supervisor that claims tasks in batches and runs them in slots.

A select loop hands jobs to slot processes, collects their outcomes, heartbeats
and listens for NOTIFY. Two database threads (tasks/recorder.py), each on its
own connection, do the hot path's statements so that the loop never waits for
them: one claims up to the free capacity (plus a prefetch) in one statement,
the other records outcomes in batched statements flushed within a few
milliseconds. Claims do not queue behind completions, so slots stay fed. Short tasks
go to slots several at a time (see tasks/pool.py), sized from how long tasks
have been taking. A housekeeping thread runs the chores; a sender thread
delivers webhooks.

Stopping (SIGTERM or SIGINT): claim nothing more, hand back what was claimed
but not started, let running tasks finish within the grace period, then exit 0.
A second Ctrl-C ends the grace period at once.
"""

import logging
import math
import os
import signal
import socket
import threading
import time
from collections import deque
from datetime import UTC, datetime
from multiprocessing.connection import wait

import psycopg
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone
from uuid6 import uuid7

from tasks import conf, queue
from tasks.db import raw_cursor
from tasks.execution import Job, Outcome
from tasks.logs import task_fields
from tasks.maintenance import Housekeeper
from tasks.models import Worker as WorkerRow
from tasks.models import WorkerState
from tasks.notify import CHANNEL, CONTROL_CHANNEL, Listener
from tasks.pool import Slot
from tasks.recorder import Recorder, Request, Result
from tasks.webhooks import WebhookSender

logger = logging.getLogger("tasks.worker")

DB_RETRY_DELAYS = (0.5, 1, 2, 5, 10)
# Jobs go to a slot in batches of about this much expected work (seconds), from
# a moving average per task type: a batch of short tasks costs one message,
# while a task of a type that takes this long or more, or of a type not seen
# yet, travels alone, and nothing is queued behind it in its slot.
BATCH_WORK = 0.002
# A worker holds about this much expected work per slot (claimed, queued or
# running), so that slots do not run dry while a claim makes its round trip;
# a slot of slow tasks holds one, plus the prefetch.
HOLD_WORK = 0.02

# The row's state is the operator's: paused or running. The worker only writes
# "stopping" (here) and "stopped" (on exit).
HEARTBEAT = """
UPDATE tasks_worker
SET last_heartbeat = now(), processed = processed + %(processed)s, failed = failed + %(failed)s,
    busy = %(busy)s,
    state = CASE WHEN %(stopping)s THEN 'stopping' ELSE state END
WHERE id = %(id)s
RETURNING state
"""


class Worker:
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
    ) -> None:
        queues = queues if queues is not None else conf.get("QUEUES")
        self.queues = None if "*" in queues else list(queues)
        self.concurrency = concurrency or conf.get("CONCURRENCY")
        self.prefetch = conf.get("PREFETCH")
        self.slot_batch = max(1, conf.get("SLOT_BATCH"))
        self.task_seconds: float | None = None  # moving average of handler run time
        self.type_seconds: dict[str, float] = {}  # the same, per task type
        self.capacity = self._capacity()
        self.burst = burst
        self.max_tasks = max_tasks
        self.housekeeping = housekeeping
        self.listen = conf.get("LISTEN") if listen is None else listen
        self.id = uuid7()
        self.state = WorkerState.RUNNING
        self.stopping = False
        self.grace_deadline = 0.0

        self.slots: list[Slot] = []
        self.backlog: deque[Job] = deque()  # claimed, waiting for a free slot
        self.done: list[Outcome] = []  # completed, not yet recorded
        self.failed: list[queue.Failure] = []  # failed, not yet recorded
        self.buffered_since = 0.0
        self.claimed = 0
        self.finished = 0
        self.unreported = [0, 0]  # completed, failed since the last heartbeat
        self.maybe_more = True  # a claim may find work (notified, polled, or last claim was full)
        self.last_claim_empty = False
        self.empty_claims = 0
        self.next_poll = 0.0
        self.next_heartbeat = 0.0
        self.db_retry_at = 0.0
        self.db_failures = 0

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
        self.slots = [
            Slot(i + 1, memory_limit_mb=conf.get("CHILD_MEMORY_LIMIT_MB"), max_tasks=conf.get("MAX_TASKS_PER_CHILD"))
            for i in range(self.concurrency)
        ]
        self._register()
        logger.info(
            "Worker %s started: queues %s, concurrency %s, pid %s",
            self.id, ",".join(self.queues or ["*"]), self.concurrency, os.getpid(),
        )
        self.claimer = Recorder(self.id, self.queues, name="claimer")
        self.recorder = Recorder(self.id, self.queues, name="recorder")
        self.claimer.start()
        self.recorder.start()
        threads = [Housekeeper(), WebhookSender()] if self.housekeeping else []
        for thread in threads:
            thread.start()
        # Beat before the first claim: other workers must not take this one for
        # dead (and rescue what it claims) because its start-up was slow.
        self._db(self._heartbeat)
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

    def _register(self) -> None:
        WorkerRow.objects.create(
            id=self.id, hostname=socket.gethostname(), pid=os.getpid(), queues=self.queues or ["*"],
            concurrency=self.concurrency, state=WorkerState.RUNNING,
        )

    def _should_exit(self) -> bool:
        busy = any(slot.busy for slot in self.slots)
        if self.stopping:
            return not busy or time.monotonic() >= self.grace_deadline
        idle = not busy and not self.backlog and not self.done and not self.failed and not self.recorder.busy and not self.claimer.busy
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
                logger.warning("Worker %s: task %s did not finish within the grace period; it will run again",
                               slot.index, slot.job.id, extra=task_fields(slot.job))
                self.backlog.extend(slot.take_unstarted())
                slot.kill()
                self._buffer(self.failed, queue.interrupted(slot.job, now))
                slot.jobs.clear()
        if (self.done or self.failed) and not self.recorder.busy:  # the last outcomes, as the others
            self.recorder.submit(Request(self.done, self.failed, 0))
            self.done, self.failed = [], []
            self._apply(self.recorder.result(timeout=60))
        self.db_retry_at = 0.0  # one last try, even in the middle of a backoff
        self._db(lambda: queue.hand_back(raw_cursor(), self.id, self.backlog))
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
        self.db_retry_at = 0.0
        self._db(lambda: WorkerRow.objects.filter(pk=self.id).update(
            state=WorkerState.STOPPED, stopped_at=timezone.now(), last_heartbeat=timezone.now(),
            processed=F("processed") + self.unreported[0], failed=F("failed") + self.unreported[1],
        ))
        logger.info("Worker %s stopped after %s task(s)", self.id, self.finished)

    # --- the loop ----------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self.next_poll:
            self.maybe_more = True
            self.next_poll = now + conf.get("POLL_INTERVAL")
        if self.stopping:
            for slot in self.slots:
                slot.drop_queued()
        if self.stopping and self.backlog:
            # Kept until the database takes them back; until then they are still ours.
            if self._db(lambda: queue.hand_back(raw_cursor(), self.id, self.backlog)) is not None:
                self.backlog.clear()
        self._apply(self.claimer.result())
        self._dispatch()
        self._handle_events(self._wait_time())
        self._enforce_deadlines()
        self._recycle_slots()
        self._apply(self.claimer.result())
        self._apply(self.recorder.result())
        self._submit()
        if time.monotonic() >= self.next_heartbeat:
            self._db(self._heartbeat)

    # --- the database, through the recorder thread ----------------------------

    def _submit(self) -> None:
        """Hand the database threads what is due: buffered outcomes, a claim if useful."""
        if time.monotonic() < self.db_retry_at:
            return
        if not self.recorder.busy and self._flush_due():
            self.recorder.submit(Request(self.done, self.failed, 0))
            self.done, self.failed = [], []
        if not self.claimer.busy and (claim := self._claim_size()):
            # The claim uses up this "maybe"; a NOTIFY or poll while it runs sets
            # it again, since the claim may have looked before that task committed.
            self.maybe_more = False
            self.claimer.submit(Request([], [], claim, promote_first=self.burst and self.last_claim_empty))

    def _claim_size(self) -> int:
        self.capacity = self._capacity()
        room = self.capacity - len(self.backlog) - sum(len(slot.jobs) for slot in self.slots)
        if self.max_tasks is not None:
            room = min(room, self.max_tasks - self.claimed)
        if self.stopping or self.state == WorkerState.PAUSED or room <= 0 or not self.maybe_more:
            return 0
        if self.burst and self.empty_claims >= 2 and not self.backlog and not any(s.busy for s in self.slots):
            return 0  # nothing runnable and nothing running: about to exit
        # Top up in batches: a claim per freed slot would cost a round trip per task.
        if self.backlog and room < self.capacity // 2:
            return 0
        return min(room, conf.get("CLAIM_BATCH"))

    def _apply(self, result: Result | None) -> None:
        """Take in what the recorder did: claimed jobs, or a failure to retry later."""
        if result is None:
            return
        if result.unrecorded_done or result.unrecorded_failed:
            if not self.done and not self.failed:
                self.buffered_since = time.monotonic()
            self.done = result.unrecorded_done + self.done
            self.failed = result.unrecorded_failed + self.failed
        if result.error is not None:
            self._db_failed(result.error)
            return
        self.db_failures = 0
        asked = result.request.claim
        if not asked:
            return
        jobs = result.jobs
        self.claimed += len(jobs)
        self.backlog.extend(jobs)
        self.maybe_more = self.maybe_more or len(jobs) == asked or self.burst
        self.last_claim_empty = not jobs
        self.empty_claims = 0 if jobs else self.empty_claims + 1

    # --- slots ---------------------------------------------------------------

    def _per_slot(self) -> int:
        """Tasks to hold per slot: about HOLD_WORK of expected work, at least one."""
        if self.task_seconds is None:
            return 1
        return max(1, min(conf.get("CLAIM_BATCH"), math.ceil(HOLD_WORK / max(self.task_seconds, 1e-6))))

    def _expected(self, job: Job) -> float:
        """How long `job` will probably run; a type not seen yet counts as a full batch."""
        return self.type_seconds.get(job.type, BATCH_WORK)

    def _capacity(self) -> int:
        """Tasks this worker holds at most: enough per slot, plus the prefetch."""
        running = self.concurrency * self._per_slot()
        return running + (running if self.prefetch < 0 else self.prefetch)

    def _dispatch(self) -> None:
        if not self.backlog or self.stopping:  # stopping: the backlog goes back, not to slots
            return
        grace = conf.get("TIMEOUT_GRACE")
        # A slot takes more while what it holds is at most half a batch of work,
        # so that it does not wait for the next message.
        ready = [slot for slot in self.slots
                 if slot.room() and sum(map(self._expected, slot.jobs)) <= BATCH_WORK / 2]
        for n, slot in enumerate(ready):
            share = -(-len(self.backlog) // (len(ready) - n))  # an even share of what is left
            limit = min(share, self.slot_batch - len(slot.jobs), slot.room())
            jobs, work = [], 0.0
            while self.backlog and len(jobs) < limit:
                seconds = self._expected(self.backlog[0])
                if jobs and work + seconds > BATCH_WORK:
                    break
                jobs.append(self.backlog.popleft())
                work += seconds
            if not jobs:
                continue
            if not slot.send(jobs, grace):  # the process just died: these go elsewhere
                self.backlog.extendleft(reversed(jobs))
                continue
            for job in jobs:
                logger.info("Worker %s processing %s", slot.index, job.label, extra=task_fields(job))

    def _wait_time(self) -> float:
        now = time.monotonic()
        deadlines = [self.next_poll, self.next_heartbeat]
        deadlines += [slot.deadline for slot in self.slots if slot.busy]
        if (self.done or self.failed) and not self.recorder.busy:
            deadlines.append(self.buffered_since + conf.get("FLUSH_INTERVAL"))
        if self.stopping:
            deadlines.append(self.grace_deadline)
        if self.db_retry_at > now:
            deadlines.append(self.db_retry_at)
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
        for slot in self.slots:
            if slot.busy and (slot.conn in ready or slot.sentinel in ready):
                self._collect(slot)
            elif slot.sentinel in ready:
                logger.warning("Worker %s: idle slot process died (%s); replacing it", slot.index, slot.exit_description())
                slot.replace()

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

    def _collect(self, slot: Slot) -> None:
        finished, dropped, died = slot.receive()
        for job, outcome in finished:
            self._outcome(slot, job, outcome)
        self.backlog.extendleft(reversed(dropped))  # never started: handed back, or run elsewhere
        if not died:
            return
        if not slot.busy:
            logger.warning("Worker %s: idle slot process died (%s); replacing it", slot.index, slot.exit_description())
            slot.replace()
            return
        job = slot.job
        self.backlog.extendleft(reversed(slot.take_unstarted()))
        reason = slot.exit_description()
        logger.error("Worker %s: process running task %s died (%s); replacing it", slot.index, job.id, reason,
                     extra=task_fields(job))
        slot.replace()
        error = {"type": "tasks.exceptions.SlotCrashed", "traceback": "",
                 "message": f"The process running the task exited unexpectedly ({reason})."}
        self._record_failure(job, error, started_at=None, slot=slot)

    def _outcome(self, slot: Slot, job: Job, outcome: Outcome) -> None:
        ran = outcome.finished_at - outcome.started_at
        self.task_seconds = ran if self.task_seconds is None else 0.9 * self.task_seconds + 0.1 * ran
        known = self.type_seconds.get(job.type)
        self.type_seconds[job.type] = ran if known is None else 0.9 * known + 0.1 * ran
        if outcome.ok:
            logger.info("Worker %s completed task %s", slot.index, job.id, extra=task_fields(job, duration=round(ran, 6)))
            self._buffer(self.done, outcome)
            self.unreported[0] += 1
            self.finished += 1
        else:
            started = datetime.fromtimestamp(outcome.started_at, UTC)
            self._record_failure(job, outcome.error, started_at=started, slot=slot)

    def _record_failure(self, job: Job, error: dict, *, started_at, slot: Slot) -> None:
        failure = queue.failure(job, error, timezone.now(), started_at=started_at)
        fields = task_fields(job, error_type=error["type"])
        logger.warning("Worker %s task %s failed: %s: %s", slot.index, job.id, error["type"].rsplit(".", 1)[-1],
                       error["message"], extra=fields)
        if failure.run_at is not None:
            logger.warning("Worker %s retrying task %s at %s (retry %s/%s)", slot.index, job.id,
                           failure.run_at.isoformat(timespec="seconds"), failure.retry_count, job.max_retries,
                           extra=fields)
        else:
            logger.error("Worker %s task %s failed for good after %s attempt(s); it is now a dead letter",
                         slot.index, job.id, job.retry_count + 1, extra=fields)
        self._buffer(self.failed, failure)
        self.unreported[1] += 1
        self.finished += 1

    def _buffer(self, buffer: list, item) -> None:
        if not self.done and not self.failed:
            self.buffered_since = time.monotonic()
        buffer.append(item)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.busy and now >= slot.deadline:
                job = slot.job
                self.backlog.extendleft(reversed(slot.take_unstarted()))
                logger.error("Worker %s: task %s exceeded its timeout of %ss; replacing its process", slot.index, job.id,
                             job.timeout, extra=task_fields(job))
                slot.replace()
                error = {"type": "tasks.exceptions.TaskTimeout", "traceback": "",
                         "message": f"The task ran longer than its timeout of {job.timeout:g} seconds and did not "
                         f"stop when interrupted; its process was replaced."}
                self._record_failure(job, error, started_at=None, slot=slot)

    def _recycle_slots(self) -> None:
        for slot in self.slots:
            if slot.needs_recycling():
                slot.stop()
                slot.start()

    def _flush_due(self) -> bool:
        pending = len(self.done) + len(self.failed)
        if not pending:
            return False
        if pending >= conf.get("FLUSH_SIZE") or self.stopping:
            return True
        return time.monotonic() - self.buffered_since >= conf.get("FLUSH_INTERVAL")

    def _heartbeat(self) -> None:
        self.next_heartbeat = time.monotonic() + conf.get("HEARTBEAT_INTERVAL")
        cursor = raw_cursor()
        cursor.execute(HEARTBEAT, {"id": self.id, "processed": self.unreported[0],
                                   "failed": self.unreported[1], "stopping": self.stopping,
                                   "busy": sum(slot.busy for slot in self.slots)})
        row = cursor.fetchone()
        self.unreported = [0, 0]
        if row is None:
            logger.warning("Worker %s: its row was deleted; registering again", self.id)
            self._register()
            return
        wanted = row[0]
        if wanted in (WorkerState.PAUSED, WorkerState.RUNNING) and wanted != self.state:
            self.state = WorkerState(wanted)
            logger.info("Worker %s %s", self.id, "paused" if wanted == WorkerState.PAUSED else "resumed")
            self.maybe_more = True

    def _db(self, operation):
        """Run a database operation; on a connection failure, back off and keep going."""
        now = time.monotonic()
        if now < self.db_retry_at:
            return None
        try:
            result = operation()
        except (DatabaseError, psycopg.Error) as exc:
            return self._db_failed(exc)
        self.db_failures = 0
        return result

    def _db_failed(self, exc: Exception) -> None:
        delay = DB_RETRY_DELAYS[min(self.db_failures, len(DB_RETRY_DELAYS) - 1)]
        # Never back off so long that, once the database is back, the heartbeat
        # comes too late and this live worker's tasks are rescued from under it.
        delay = min(delay, conf.get("WORKER_TIMEOUT") / 4)
        self.db_failures += 1
        self.db_retry_at = time.monotonic() + delay
        logger.warning("Worker %s: database unavailable (%s); retrying in %ss", self.id, str(exc).strip(), delay)
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close
            pass
