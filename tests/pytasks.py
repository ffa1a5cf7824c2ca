"""django.tasks @task functions used by the tests. Worker processes started by
the tests import this module through QUEUE_HANDLER_MODULES."""

import asyncio
import os
import time

from django.dispatch import receiver
from django.tasks import task
from django.tasks.signals import task_finished, task_started

from tasks.context import report_progress


@task
def add(a, b):
    return a + b


@task(priority=7, queue_name="python")
def describe(value, *, label="value"):
    return {"label": label, "value": value, "pid": os.getpid()}


@task
async def async_add(a, b):
    await asyncio.sleep(0.01)
    return a + b


@task(takes_context=True)
def whoami(context, note):
    result = context.task_result
    return {"id": result.id, "attempt": context.attempt, "status": result.status,
            "worker_ids": result.worker_ids, "args": result.args, "note": note}


@task(takes_context=True, max_retries=3, retry_backoff=0.1)
def flaky(context, succeed_on):
    if context.attempt < succeed_on:
        raise ConnectionError(f"attempt {context.attempt} failed on purpose")
    return {"attempt": context.attempt, "errors": len(context.task_result.errors)}


@task(max_retries=0)
def boom(message):
    raise ValueError(message)


@task(max_retries=0)
def returns_a_set():
    return {1, 2}


@task(max_retries=0, timeout=1)
async def sleeps_async(seconds, marker):
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        with open(marker, "w") as out:
            out.write("cancelled")
        raise


@task(unique=True)
def dedup(n):
    return n


@task(unique=60)
def throttled(n):
    return n


@task(expose="py-invoice", max_retries=5, timeout=1, retry_backoff=7, unique=True)
def invoice(number):
    return number


@task(expose="py-echo")
def exposed_echo(value):
    return value


@task(takes_context=True)
def steps(context, count, pause):
    for done in range(count):
        context.report_progress(done / count, f"step {done + 1} of {count}")
        time.sleep(pause)
    report_progress(1, "done")
    return count


@task
def sleep_then_add(seconds, a, b):
    time.sleep(seconds)
    return a + b


def _signal_log(line: str) -> None:
    path = os.environ.get("TASKQUEUE_TEST_LOG")
    if path:
        with open(path + ".signals", "a") as log:
            log.write(line + "\n")


@receiver(task_started)
def _started(sender, task_result, **kwargs):
    _signal_log(f"started {task_result.id} {task_result.status} {os.getpid()}")


@receiver(task_finished)
def _finished(sender, task_result, **kwargs):
    _signal_log(f"finished {task_result.id} {task_result.status} {os.getpid()}")


@task
def total_of_dependencies():
    """The sum of its workflow dependencies' results (tests of the results flow)."""
    from tasks.context import dependency_results

    return sum(dependency_results().values())
