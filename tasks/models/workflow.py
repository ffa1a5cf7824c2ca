"""Workflows (tasks that wait for other tasks) and batches (tasks counted as a set).

A workflow is a DAG of tasks: an edge `Dependency(task, depends_on)` says that
`task` stays `waiting` until `depends_on` is finished. A batch counts its
tasks' outcomes and enqueues its callbacks once, when it is closed and all of
its tasks are finished. The progress of both is made by a trigger on the task
table, in the transaction that finishes a task (migration 0013_workflows).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tasks.db import uuid7
from tasks.models.task import Task


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"workflow {self.name or self.id}"

    def head(self) -> dict:
        return {"id": str(self.id), "name": self.name, "created_at": self.created_at.isoformat().replace("+00:00", "Z")}


class Dependency(models.Model):
    """An edge of a workflow's DAG: `task` runs after `depends_on` finishes."""

    # Deleted with either task, by the database: pruning and deleting dead letters stay one statement.
    task = models.ForeignKey("tasks.Task", on_delete=models.DB_CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey("tasks.Task", on_delete=models.DB_CASCADE, related_name="dependents")
    # False: if `depends_on` fails for good or is cancelled, `task` is cancelled.
    # True: it counts as finished, and `task` runs anyway.
    ignore_failed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "depends_on"], name="dependency_unique")]
        # The trigger walks edges from the finished task (depends_on); the task's
        # own deps are looked up by the unique index (task, depends_on).
        indexes = [models.Index(fields=["depends_on"], name="dependency_depends_on_idx")]


class Batch(models.Model):
    """A set of tasks with live counts, and callbacks enqueued once when it finishes."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200, blank=True)
    # Tasks may be added until it is closed; it can finish only once closed.
    closed = models.BooleanField(default=False)
    total = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)
    # Callback tasks, created `waiting` with the batch; when it finishes the ones
    # that apply become pending and the others are cancelled.
    on_success = models.UUIDField(null=True, blank=True)  # every task completed
    on_failure = models.UUIDField(null=True, blank=True)  # some failed or were cancelled
    on_complete = models.UUIDField(null=True, blank=True)  # always, when all are finished
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="batch_total_positive")]

    def __str__(self) -> str:
        return f"batch {self.name or self.id}"

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.cancelled

    @property
    def pending(self) -> int:
        """Tasks not finished yet (waiting, scheduled, pending or processing)."""
        return self.total - self.finished

    @property
    def progress(self) -> float:
        return self.finished / self.total if self.total else 0.0

    @property
    def status(self) -> str:
        if self.finished_at is not None:
            return "succeeded" if self.failed + self.cancelled == 0 else "failed"
        return "open" if not self.closed else "running"

    def as_json(self) -> dict:
        return {
            "id": str(self.id), "name": self.name, "status": self.status, "closed": self.closed,
            "total": self.total, "pending": self.pending, "completed": self.completed, "failed": self.failed,
            "cancelled": self.cancelled, "progress": round(self.progress, 4),
            "callbacks": {name: None if getattr(self, name) is None else str(getattr(self, name))
                          for name in ("on_success", "on_failure", "on_complete")},
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat().replace("+00:00", "Z"),
        }


def workflow_json(row: Workflow) -> dict:
    """The workflow as the API and the dashboard show it: every node with its status, deps and result."""
    tasks = list(Task.objects.filter(workflow_id=row.id).order_by("id").only(
        "id", "node", "type", "status", "queue", "last_error", "result", "created_at", "started_at", "completed_at"))
    edges: dict = {}
    for task_id, dep_node, ignore in Dependency.objects.filter(task__workflow_id=row.id).values_list(
            "task_id", "depends_on__node", "ignore_failed"):
        edges.setdefault(task_id, []).append((dep_node, ignore))
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    return {
        **row.head(), "status": workflow_status(counts), "counts": counts,
        "nodes": [{
            "name": task.node, "task_id": str(task.id), "type": task.type, "status": task.status,
            "queue": task.queue, "deps": [name for name, _ in edges.get(task.id, [])],
            "ignore_failed": [name for name, ignore in edges.get(task.id, []) if ignore],
            "error": task.last_error, "result": task.result,
        } for task in tasks],
    }


def workflow_status(counts: dict[str, int]) -> str:
    """running while any node is active; then failed if any failed, cancelled if any was, else completed."""
    if any(counts.get(s) for s in ("waiting", "scheduled", "pending", "processing")):
        return "running"
    for word in ("failed", "cancelled"):
        if counts.get(word):
            return word
    return "completed"
