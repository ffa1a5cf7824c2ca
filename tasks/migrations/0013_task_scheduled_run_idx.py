"""The scheduled tasks' index gains the id, so that the dashboard pages through
scheduled tasks by (run_at, id) without sorting ties; built beside the old one,
then the old one dropped, both without blocking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0012_schedule_help")]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(condition=models.Q(("status", "scheduled")), fields=["run_at", "id"],
                               name="task_scheduled_run_idx"),
        ),
        RemoveIndexConcurrently(model_name="task", name="task_scheduled_idx"),
    ]
