"""The queue wait of an event starts when the task became runnable: the later
of its creation and its run_at. A task created with a scheduled_for in the
past (the reference examples use 2025) has not waited since then.

tasks_task_log_update() (0006_event_triggers) is rewritten in place from its
current definition, so that whatever else later migrations changed in it stays.
"""

from django.db import migrations

OLD = "n.started_at - n.run_at"
NEW = "n.started_at - greatest(n.run_at, n.created_at)"


def _rewrite(before: str, after: str):
    def run(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_functiondef('tasks_task_log_update'::regproc)")
            definition = cursor.fetchone()[0]
            if before in definition:
                cursor.execute(definition.replace(before, after))
    return run


class Migration(migrations.Migration):
    dependencies = [("tasks", "0014_task_metadata")]

    operations = [migrations.RunPython(_rewrite(OLD, NEW), _rewrite(NEW, OLD))]
