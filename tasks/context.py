"""What a running handler may ask of the queue: which job it is, and how to report progress.

The worker's execution step sets the current job around each handler call
(`running`); handlers and @task functions read it with `current_job()`.
"""

from contextvars import ContextVar

from tasks.jobs import Job

_current: ContextVar[Job] = ContextVar("current_job")


class running:  # noqa: N801 - used as a function: `with running(job):`
    """Make `job` the current job for the code inside the block.

    A class rather than @contextmanager: it wraps every task, and a generator
    costs several times more to enter and leave."""

    __slots__ = ("job", "token")

    def __init__(self, job: Job) -> None:
        self.job = job

    def __enter__(self) -> None:
        self.token = _current.set(self.job)

    def __exit__(self, *exc_info) -> None:
        _current.reset(self.token)


def current_job() -> Job:
    """The job running in this process; for handlers that want its id or attempt.

    Raises LookupError outside a running task."""
    return _current.get()


def current_job_or_none() -> Job | None:
    """The running job, or None outside a task (for log filters)."""
    return _current.get(None)


def report_progress(value: float | None, message: str = "") -> bool:
    """Tell the queue how far the running task is: `value` from 0 to 1, and a message.

    Call it from a handler or @task function while it runs; the REST API and
    the dashboard show it at once. Each call is one UPDATE, committed
    immediately (unless the handler has its own transaction open, in which
    case it shows when that commits). Returns False when this attempt no
    longer holds the task, for example after its timeout.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
        raise ValueError(f"Progress is a number from 0 to 1 (or None), not {value!r}.")
    # Imported here, not above: the log filter (tasks.telemetry.logs) imports
    # this module while Django configures logging, before the models can load.
    from tasks import queue

    return queue.report_progress(current_job(), value, str(message)[:500])


# A dependent's view of its dependencies: one query, run only when a handler asks.
DEPENDENCY_RESULTS = """
SELECT x.node, x.id, x.status, x.result
FROM tasks_dependency d JOIN tasks_task x ON x.id = d.depends_on_id
WHERE d.task_id = %s
"""


def dependency_results() -> dict:
    """The results of the running task's workflow dependencies, by node name.

    A dependency that failed or was cancelled (an `ignore_failed` edge) has
    None. One query per call; tasks that never call it pay nothing."""
    import json

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DEPENDENCY_RESULTS, [current_job().id])
        # Django's connection reads jsonb as its text (JSONField parses it).
        return {node or str(task_id): json.loads(result) if status == "completed" and result is not None else None
                for node, task_id, status, result in cursor.fetchall()}
