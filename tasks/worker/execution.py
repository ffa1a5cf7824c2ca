"""Running one job in a slot process: its handler, its timeout, its outcome.

Payloads travel as JSON text from the claim to the slot and results come back
as JSON text, so the supervisor never parses them.

A job of a type this process does not know may be a Python task defined in a
module the worker did not import at start-up: its row records that module,
and the slot imports it (once per process) before giving up on the type.
"""

import json
import signal
import time

from django.db import close_old_connections

from tasks.context import running
from tasks.exceptions import TaskTimeout, traced
from tasks.handlers import registry
from tasks.jobs import Job, Outcome
from tasks.models import Task

# The timeout of the attempt running now, for the alarm handler; None when no
# attempt is running (an alarm then is a leftover and is ignored).
_limit: list[float | None] = [None]


def execute(job: Job) -> Outcome:
    """Run `job`'s handler and describe the outcome; never raises for handler errors."""
    close_old_connections()
    started = time.time()
    try:
        with running(job):
            handler = registry.find(job.type) or discover(job)
            _limit[0] = job.timeout
            signal.setitimer(signal.ITIMER_REAL, job.timeout)
            try:
                value = handler.func(job.payload)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                _limit[0] = None
            result_json = json.dumps(value, allow_nan=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded with its traceback
        return Outcome(job.id, job.attempt, False, None, traced(exc), started, time.time())
    finally:
        close_old_connections()
    return Outcome(job.id, job.attempt, True, result_json, None, started, time.time())


def discover(job: Job) -> registry.Handler:
    """The handler of a type not known here, from the module its row records."""
    module = Task.objects.filter(pk=job.id).values_list("module", flat=True).first()
    return registry.load(job.type, module or "")


def enforce_timeouts() -> None:
    """Make SIGALRM raise TaskTimeout in the running handler; a slot calls this once.

    Cooperative: it interrupts Python code and sleeps. Code stuck in C that
    ignores signals is handled by the supervisor, which replaces the process.
    Installed once per process rather than around each task: setting a signal
    handler costs more than a no-op task."""
    signal.signal(signal.SIGALRM, _expire)


def _expire(signum, frame) -> None:
    seconds = _limit[0]
    if seconds is not None:
        raise TaskTimeout(f"The task ran longer than its timeout of {seconds:g} seconds.")
