"""Execution slots: one child process each, replaced when it hangs or dies.

A slot runs one job at a time. Children come from a fork server that has
already imported Django, so replacing one takes milliseconds. A task that
crashes its process (os._exit, a segfault, the OOM killer) takes only that
process down; the supervisor records the attempt as failed and starts another.
"""

import logging
import multiprocessing
import os
import resource
import signal
import time
from multiprocessing.connection import Connection

from tasks.execution import Job, Outcome

logger = logging.getLogger("tasks.worker")

_context = None


def _mp_context():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["tasks.slot_boot"])
    return _context


class Slot:
    """One execution slot of a worker and the child process behind it."""

    def __init__(self, index: int, *, memory_limit_mb: int = 0, max_tasks: int = 0):
        self.index = index
        self.memory_limit_mb = memory_limit_mb
        self.max_tasks = max_tasks
        self.job: Job | None = None
        self.started_at = 0.0  # monotonic, when the current job was sent
        self.deadline = 0.0  # monotonic, when the supervisor gives up on the job
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
    def busy(self) -> bool:
        return self.job is not None

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def send(self, job: Job, grace: float) -> None:
        self.conn.send(job)
        self.job = job
        self.started_at = time.monotonic()
        self.deadline = self.started_at + job.timeout + grace

    def receive(self) -> Outcome:
        """The outcome of the current job; EOFError when the process died."""
        outcome = self.conn.recv()
        self.job = None
        self.tasks_run += 1
        return outcome

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
        self.job = None
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
    """The child: receive a job, run it, send the outcome, until told to stop."""
    # The supervisor decides when slots stop; Ctrl-C in a terminal reaches the
    # whole process group, and a slot must finish its task rather than die.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import django

    django.setup(set_prefix=False)
    from tasks.execution import execute

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):  # OSError: the supervisor died
            return
        if job is None:
            return
        outcome = execute(job)
        try:
            conn.send(outcome)
        except OSError:  # the supervisor is gone; the task will be rescued and run again
            return


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
