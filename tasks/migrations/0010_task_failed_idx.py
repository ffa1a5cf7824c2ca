"""The dead letters in failure order: a partial index, built without blocking
writes (CREATE INDEX CONCURRENTLY cannot run inside a transaction)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0009_dashboard_audit_timing")]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(models.OrderBy(models.F("completed_at"), descending=True),
                               models.OrderBy(models.F("id"), descending=True),
                               condition=models.Q(("status", "failed")), name="task_failed_idx"),
        ),
    ]
