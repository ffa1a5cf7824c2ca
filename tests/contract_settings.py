"""Settings of the worker processes that run django-tasks-db's own worker in the
contract tests: the project's settings, with that backend as the default."""

from queueproject.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_db.backend.DatabaseBackend", "QUEUES": ["default", "emails"]}}
