"""Indexes for the dashboard's lists, built and dropped without blocking writes
(CONCURRENTLY, which cannot run inside a transaction):

- task_failed_idx: the dead letters in failure order, newest first; partial, so
  only rows that reach `failed` pay for it;
- task_scheduled_run_idx replaces task_scheduled_idx: the id joins run_at, so
  that scheduled tasks page by (run_at, id) without sorting ties, and promotion
  is served as before.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0010_dashboard_audit_timing")]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(models.OrderBy(models.F("completed_at"), descending=True),
                               models.OrderBy(models.F("id"), descending=True),
                               condition=models.Q(("status", "failed")), name="task_failed_idx"),
        ),
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(condition=models.Q(("status", "scheduled")), fields=["run_at", "id"],
                               name="task_scheduled_run_idx"),
        ),
        RemoveIndexConcurrently(model_name="task", name="task_scheduled_idx"),
    ]
