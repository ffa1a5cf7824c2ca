"""Task types used only by the tests. Worker processes started by the tests load
this module through QUEUE_HANDLER_MODULES=tests.handlers."""

import os
import signal
import time

from tasks.context import current_job
from tasks.handlers.registry import register


@register("record")
def record(payload):
    """Append "<task id> <attempt> <pid>" to the file named by TASKQUEUE_TEST_LOG."""
    job = current_job()
    line = f"{job.id} {job.attempt} {os.getpid()}\n"
    with open(os.environ["TASKQUEUE_TEST_LOG"], "a") as log:
        log.write(line)
    if isinstance(payload, dict) and payload.get("sleep"):
        time.sleep(payload["sleep"])
    return {"pid": os.getpid()}


@register("crash")
def crash(payload):
    """Kill the process running the task, as a segfault or the OOM killer would."""
    os._exit(int(payload or 13))


@register("hang")
def hang(payload):
    """Ignore the timeout signal and sleep: only replacing the process stops this."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(payload or 3600)


@register("flaky")
def flaky(payload):
    """Fail until the attempt number reaches `payload`, then succeed."""
    job = current_job()
    if job.attempt < int(payload):
        raise ConnectionError(f"attempt {job.attempt} failed on purpose")
    return {"attempt": job.attempt}


@register("orm")
def orm(payload):
    """Read the task's own row through the ORM (so the slot opens a database
    connection), then sleep `payload` seconds."""
    from tasks.models import Task

    exists = Task.objects.filter(pk=current_job().id).exists()
    time.sleep(float(payload or 0))
    return {"exists": exists}


@register("hog")
def hog(payload):
    """Allocate memory until the process runs out, 64 MB at a time."""
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


@register("tally")
def tally(payload):
    """`record`, then exit the process when the payload is "crash": a quick type,
    so it travels to slots in batches and the crash leaves jobs queued behind it."""
    result = record(None)
    if payload == "crash":
        os._exit(9)
    return result


# A workflow node's dependencies that are not completed (there should be none when it runs).
_OPEN_DEPENDENCIES = """
SELECT count(*) FROM tasks_dependency d JOIN tasks_task x ON x.id = d.depends_on_id
WHERE d.task_id = %s AND x.status <> 'completed'
"""


@register("flowstep")
def flowstep(payload):
    """`record`, and "<id> EARLY" in TASKQUEUE_TEST_LOG + ".early" when a dependency is not completed yet."""
    from django.db import connection

    job = current_job()
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_DEPENDENCIES, [job.id])
        early = cursor.fetchone()[0]
    if early:
        with open(os.environ["TASKQUEUE_TEST_LOG"] + ".early", "a") as log:
            log.write(f"{job.id} EARLY\n")
    with open(os.environ["TASKQUEUE_TEST_LOG"], "a") as log:
        log.write(f"{job.id} {job.attempt} {os.getpid()}\n")
    if isinstance(payload, dict) and payload.get("sleep"):
        time.sleep(payload["sleep"])
    return {"pid": os.getpid()}


@register("probe")
def probe(payload):
    """Append "start|end <task id> <attempt> <epoch seconds> <pid> <worker id>" to TASKQUEUE_TEST_LOG around a
    sleep of payload["sleep"] seconds; fail the first attempt when payload["fail_first"]."""
    job = current_job()
    payload = payload or {}

    def note(what):
        with open(os.environ["TASKQUEUE_TEST_LOG"], "a") as log:
            log.write(f"{what} {job.id} {job.attempt} {time.time():.6f} {os.getpid()} {job.worker_id}\n")

    note("start")
    time.sleep(payload.get("sleep", 0))
    if payload.get("fail_first") and job.attempt == 1:
        note("end")
        raise RuntimeError("first attempt fails on purpose")
    note("end")
    return payload.get("tag")
