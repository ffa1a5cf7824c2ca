"""Execution slots: one child process each, replaced when it hangs or dies.

A slot runs one job at a time. Children come from a fork server that has
already imported Django, so replacing one takes milliseconds. A task that
crashes its process (os._exit, a segfault, the OOM killer) takes only that
process down; the supervisor records the attempt as failed and starts another.

Jobs travel to a slot in batches (one message for several short jobs, so the
cost of a pipe round trip is not paid per task) and run in order; each outcome
comes back as soon as its job ends, so nothing that ran is lost if a later job
kills the process. The first job without an outcome is the running one: the
supervisor's hard deadline follows it, and when the process dies or is replaced
the jobs behind it have not started. On shutdown the supervisor asks for the
queued jobs back (DROP); the child answers with those it had not started.
"""

import logging
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from operator import attrgetter
from uuid import UUID

from tasks.jobs import Job, Outcome
from tasks.worker.execution import enforce_timeouts, execute

logger = logging.getLogger("tasks.worker")

_context = None

# Jobs and outcomes cross the pipe as plain tuples of their fields: pickling a
# tuple costs a fraction of pickling a dataclass, and there is one of each per task.
_job_fields = attrgetter(*(f.name for f in fields(Job)))
_outcome_fields = attrgetter(*(f.name for f in fields(Outcome)))

DROP = "drop"  # to a child: give back the jobs you have not started


@dataclass(frozen=True, slots=True)
class Dropped:
    """From a child: these queued jobs were not started and never will be."""

    ids: list[UUID]


def _mp_context():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["tasks.worker.slot_boot"])
    return _context


class Slot:
    """One execution slot of a worker and the child process behind it."""

    def __init__(self, index: int, *, memory_limit_mb: int = 0, max_tasks: int = 0):
        self.index = index
        self.memory_limit_mb = memory_limit_mb
        self.max_tasks = max_tasks
        self.jobs: deque[Job] = deque()  # sent, no outcome yet; the first one is running
        self.started_at = 0.0  # monotonic, when the current job started (about)
        self.deadline = 0.0  # monotonic, when the supervisor gives up on the current job
        self.grace = 0.0
        self.drop_requested = False
        self.tasks_run = 0
        self.process = None
        self.conn: Connection | None = None
        self.start()

    def start(self) -> None:
        ctx = _mp_context()
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=slot_main, args=(child, self.index, self.memory_limit_mb),
            name=f"slot-{self.index}", daemon=True,
        )
        self.process.start()
        child.close()
        self.conn = parent
        self.tasks_run = 0

    @property
    def job(self) -> Job | None:
        """The job running now (or about to)."""
        return self.jobs[0] if self.jobs else None

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def room(self) -> int:
        """How many more jobs this child may be given before recycling."""
        if not self.max_tasks:
            return 1 << 30
        return max(0, self.max_tasks - self.tasks_run - len(self.jobs))

    def send(self, jobs: list[Job], grace: float) -> bool:
        """Queue `jobs` in the child; False if it has died (they did not reach it)."""
        try:
            self.conn.send([_job_fields(job) for job in jobs])
        except OSError:  # BrokenPipeError: its death is the loop's to handle, by the sentinel
            return False
        self.grace = grace
        if not self.jobs:
            self._begin(jobs[0])
        self.jobs.extend(jobs)
        return True

    def _begin(self, job: Job) -> None:
        self.started_at = time.monotonic()
        self.deadline = self.started_at + job.timeout + self.grace

    def receive(self) -> tuple[list[tuple[Job, Outcome]], list[Job], bool]:
        """Read what the child has sent: (finished jobs with their outcomes,
        jobs it gave back unstarted, whether the process died)."""
        finished, dropped, died = [], [], False
        try:
            while True:
                message = self.conn.recv()
                if isinstance(message, Dropped):
                    ids = set(message.ids)
                    dropped += [job for job in self.jobs if job.id in ids]
                    self.jobs = deque(job for job in self.jobs if job.id not in ids)
                else:
                    finished.append((self.jobs.popleft(), Outcome(*message)))
                    self.tasks_run += 1
                    if self.jobs:
                        self._begin(self.jobs[0])
                if not self.conn.poll():
                    break
        except (EOFError, OSError):
            died = True
        if not self.jobs:
            self.drop_requested = False
        return finished, dropped, died

    def drop_queued(self) -> None:
        """Ask the child to give back the jobs queued behind the running one."""
        if len(self.jobs) > 1 and not self.drop_requested:
            self.drop_requested = True
            try:
                self.conn.send(DROP)
            except OSError:
                pass

    def take_unstarted(self) -> list[Job]:
        """The jobs behind the running one; for when the process is killed."""
        rest = list(self.jobs)[1:]
        while len(self.jobs) > 1:
            self.jobs.pop()
        return rest

    def needs_recycling(self) -> bool:
        return bool(self.max_tasks) and self.tasks_run >= self.max_tasks and not self.busy

    def exit_description(self) -> str:
        self.process.join(timeout=1)
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exit code {code}"

    def replace(self) -> None:
        """Kill the child (if still there) and start a fresh one."""
        self.kill()
        self.jobs.clear()
        self.drop_requested = False
        self.start()

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask an idle child to exit; kill it if it does not."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=timeout)
        self.kill()


def slot_main(conn: Connection, index: int, memory_limit_mb: int) -> None:
    """The child: receive jobs, run them in order, send each outcome, until told to stop."""
    # The supervisor decides when slots stop; Ctrl-C in a terminal reaches the
    # whole process group, and a slot must finish its task rather than die.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    enforce_timeouts()
    die_with_parent()
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    queued: deque[Job] = deque()
    while True:
        # Take every message waiting (block only when there is nothing to run).
        while not queued or conn.poll():
            try:
                message = conn.recv()
            except (EOFError, OSError, KeyboardInterrupt):  # OSError: the supervisor died
                return
            if message is None:
                return
            if message == DROP:
                reply = Dropped([job.id for job in queued])
                queued.clear()
            else:
                queued.extend(Job(*values) for values in message)
                continue
            if not _send(conn, reply):
                return
        if not _send(conn, _outcome_fields(execute(queued.popleft()))):
            return


def _send(conn: Connection, message) -> bool:
    """Send to the supervisor; False when it is gone (its tasks will be rescued and run again)."""
    try:
        conn.send(message)
    except OSError:
        return False
    return True


def die_with_parent() -> None:
    """Be SIGKILLed when the parent process dies.

    Called in the fork server (whose parent is the supervisor) and in each slot
    (whose parent is the fork server), so a SIGKILLed supervisor takes its
    slots along. Its task will be rescued and run again; an orphaned slot that
    kept running it would only run it twice at the same time. Linux only;
    elsewhere the orphan finishes its task and exits when it finds the pipe closed.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)
