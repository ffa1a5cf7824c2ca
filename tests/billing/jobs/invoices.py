"""Tasks of the billing test app, written against Django's `django.tasks` only.

The signal receivers append "<signal> <task id> <status> <attempts>" lines to
the file TASKQUEUE_TEST_LOG names plus ".contract", in whichever process runs them.
"""

import asyncio
import os

from django.dispatch import receiver
from django.tasks import task
from django.tasks.signals import task_finished, task_started


@task
def total(amounts: list[int], *, discount: int = 0) -> int:
    return sum(amounts) - discount


@task(queue_name="emails", priority=20)
def send_reminder(invoice: int) -> dict:
    return {"sent": invoice}


@task
def refuse(reason: str) -> None:
    raise ValueError(reason)


@task
def not_json() -> set:
    return {1, 2}


@task(takes_context=True)
def describe_run(context, note: str) -> dict:
    result = context.task_result
    return {"id": result.id, "attempt": context.attempt, "status": result.status, "args": result.args,
            "note": note, "workers": len(result.worker_ids)}


@task
async def total_later(amounts: list[int]) -> int:
    await asyncio.sleep(0.01)
    return sum(amounts)


def _log(line: str) -> None:
    if path := os.environ.get("TASKQUEUE_TEST_LOG"):
        with open(path + ".contract", "a") as log:
            log.write(line + "\n")


@receiver(task_started)
def _started(sender, task_result, **kwargs):
    _log(f"started {task_result.id} {task_result.status} {task_result.attempts}")


@receiver(task_finished)
def _finished(sender, task_result, **kwargs):
    _log(f"finished {task_result.id} {task_result.status} {task_result.attempts}")
