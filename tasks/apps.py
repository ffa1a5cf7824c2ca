"""The `tasks` app: the queue itself (see the package docstring)."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Task queue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Built-in task types register themselves on import.
        from tasks.backends import functions
        from tasks.handlers import builtin, image, registry  # noqa: F401

        registry.load_modules()
        # Each installed app's `tasks` module, so that its @task functions register.
        functions.autodiscover()
        # Flow control's QUEUE_LIMITS is checked before any worker or web process starts.
        from django.core import checks

        from tasks.queue import limits

        checks.register(limits.check_settings)
