"""Several fresh Python processes doing the same thing at once, against the test
database: producers racing on a unique key, chores racing on a tick.

Children are spawned, not forked (the test process has threads), and set up
Django themselves from DATABASE_URL, so this module imports nothing from Django
at the top.
"""

import multiprocessing
import os
import queue
import time


def run_together(target, args_per_process, *, database_url: str, timeout: float = 90) -> list:
    """Run target(barrier, out, *args) in one spawned process per args; returns what they put in `out`."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(args_per_process)), ctx.Queue()
    saved = dict(os.environ)
    os.environ.update({"DATABASE_URL": database_url, "QUEUE_HANDLER_MODULES": "tests.handlers,tests.pytasks"})
    try:
        procs = [ctx.Process(target=target, args=(barrier, out, *args)) for args in args_per_process]
        for proc in procs:
            proc.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    results = []
    deadline = time.monotonic() + timeout
    # Children exit only once their results are read, so read while any is alive.
    while (any(proc.is_alive() for proc in procs) or not out.empty()) and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=0.2))
        except queue.Empty:
            pass
    for proc in procs:
        proc.join(timeout=10)
        assert proc.exitcode == 0, f"a child process exited with {proc.exitcode}"
    return results


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
    django.setup()


def produce(barrier, out, task_name: str, arg, hold: float) -> None:
    """Enqueue pytasks.<task_name>(arg) in a transaction held open for `hold` seconds."""
    _setup()
    from django.db import connection, transaction

    from tests import pytasks

    barrier.wait()
    with transaction.atomic():
        result = getattr(pytasks, task_name).enqueue(arg)
        time.sleep(hold)
    out.put(result.id)
    connection.close()


def tick_in_lockstep(barrier, out, times) -> None:
    """Run the schedules chore at each pinned time, in step with the other processes."""
    _setup()
    from django.db import connection

    from tasks.maintenance import fire_schedules as chore

    chore._synced = True  # the test's schedules only; nothing declared to sync
    for now in times:
        barrier.wait()
        out.put(chore.run_once(now))
    connection.close()
