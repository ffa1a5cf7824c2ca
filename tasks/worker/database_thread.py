"""The worker's database threads: they claim tasks and record outcomes off the supervisor's loop.

A claim or a batch of completions costs a round trip of a few milliseconds. Run
in the supervisor's loop, each one stalls the dispatching of tasks to slots and
the collecting of their outcomes; slots that finish meanwhile sit idle. A
DatabaseThread does them on a connection of its own, one request at a time,
while the loop goes on. A worker runs two, the claimer and the recorder, so
that a claim never queues behind a batch of completions. The statements are
those of tasks.queue, unchanged: fenced, one statement per batch, each its own
transaction.

The loop submits a request (outcomes to record, how many tasks to claim) only
while no other is in flight, and picks the result up when the thread writes to
its wake-up pipe. A database error comes back as the result's `error`, with
the outcomes not known to be recorded, for the loop to keep and record later
(recording twice is harmless: the fence lets only the first one through).
"""

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from django.db import DatabaseError, connection
from django.utils import timezone

from tasks import conf, queue
from tasks.db import CHANNEL, raw_cursor
from tasks.jobs import Failure, Job, Outcome
from tasks.maintenance import promote
from tasks.worker.claimer import Claimer

logger = logging.getLogger("tasks.worker")


@dataclass
class Request:
    done: list[Outcome]
    failed: list[Failure]
    claim: int  # how many tasks to claim after recording; 0 for none
    promote_first: bool = False  # burst mode: make due tasks runnable before claiming
    # Limited queues some of whose tasks just finished: announced after recording,
    # so that workers waiting on the limit claim again (tasks/queue/flow.py).
    notify: list[str] = field(default_factory=list)


@dataclass
class Result:
    request: Request
    jobs: list[Job] = field(default_factory=list)
    unrecorded_done: list[Outcome] = field(default_factory=list)
    unrecorded_failed: list[Failure] = field(default_factory=list)
    error: Exception | None = None
    opens_in: float | None = None  # seconds until a rate-limited queue opens again
    limited: frozenset[str] = frozenset()  # the worker's queues under flow control


class DatabaseThread(threading.Thread):
    """Runs one Request at a time on its own connection; see the module docstring."""

    def __init__(self, worker_id: UUID, queues: Sequence[str] | None, name: str,
                 claimer: Claimer | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.worker_id = worker_id
        self.queues = queues
        self.claimer = claimer or Claimer(worker_id, queues)
        self.wake_r, self._wake_w = os.pipe()
        self._request: Request | None = None
        self._result: Result | None = None
        self._cond = threading.Condition()
        self._stopped = False

    @property
    def busy(self) -> bool:
        """A request is in flight or its result has not been picked up."""
        return self._request is not None or self._result is not None

    def submit(self, request: Request) -> None:
        with self._cond:
            assert not self.busy, "one request at a time"
            self._request = request
            self._cond.notify()

    def result(self, timeout: float | None = 0) -> Result | None:
        """The finished request's result, or None if it is still running (after `timeout`)."""
        with self._cond:
            if self._result is None and timeout != 0:
                self._cond.wait_for(lambda: self._result is not None or self._request is None, timeout)
            result, self._result = self._result, None
        if result is not None:
            os.read(self.wake_r, 1)
        return result

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self.join(timeout=30)
        os.close(self.wake_r)
        os.close(self._wake_w)

    def run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._request is not None or self._stopped)
                if self._request is None:
                    break
                request = self._request
            result = self._perform(request)
            with self._cond:
                self._result, self._request = result, None
                self._cond.notify_all()
            os.write(self._wake_w, b"x")
        connection.close()

    def _perform(self, request: Request) -> Result:
        result = Result(request, unrecorded_done=request.done, unrecorded_failed=request.failed)
        try:
            cursor = self._cursor()
            if request.done:
                queue.complete(cursor, self.worker_id, request.done)
                result.unrecorded_done = []
            if request.failed:
                queue.fail(cursor, request.failed)
                result.unrecorded_failed = []
            if request.notify:
                cursor.execute("SELECT pg_notify(%s, name) FROM unnest(%s::text[]) AS n(name)",
                               [CHANNEL, request.notify])
            if request.promote_first:
                promote.run_once(timezone.now())
            if request.claim > 0:
                claim = self.claimer.claim(self._cursor(), request.claim)
                result.jobs, result.opens_in, result.limited = claim.jobs, claim.opens_in, claim.limited
        except Exception as exc:  # noqa: BLE001 - the thread must live on; the loop retries
            if not isinstance(exc, DatabaseError | psycopg.Error):
                logger.exception("The %s thread failed; the worker will retry", self.name)
            result.error = exc
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass
        return result

    def _cursor(self) -> psycopg.Cursor:
        fresh = connection.connection is None
        cursor = raw_cursor()
        if fresh and conf.get("ASYNC_COMMIT"):
            # Outcomes and claims only: a crash of PostgreSQL may forget the last
            # few hundred milliseconds of them, which means a task runs again
            # (at-least-once holds). Enqueues never use this connection.
            cursor.execute("SET synchronous_commit = off")
        return cursor
