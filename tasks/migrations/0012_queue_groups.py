"""Two groups for the scopes of tasks/access.py: "Queue viewers" (read) and
"Queue operators" (read, enqueue, operate). Add users to them in the admin."""

from django.db import migrations

GROUPS = {
    "Queue viewers": ["queue_read"],
    "Queue operators": ["queue_read", "queue_enqueue", "queue_operate"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after every migration has run; these
    # groups need them now.
    from django.contrib.auth.management import create_permissions

    tasks_app = apps.get_app_config("tasks")
    models_module = getattr(tasks_app, "models_module", None)
    tasks_app.models_module = models_module or True  # create_permissions skips an app without models
    create_permissions(tasks_app, apps=apps, verbosity=0)
    tasks_app.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="tasks", codename__in=codenames))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0011_task_list_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
