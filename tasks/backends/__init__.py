"""The django.tasks integration: Django's `@task` functions enqueue into this queue.

    TASKS = {"default": {"BACKEND": "tasks.backends.PostgresBackend"}}

- postgres.py: PostgresBackend, the backend named in settings;
- functions.py: QueueTask (Django's Task plus this queue's options) and what
  defining one registers;
- runner.py: how a worker's slot runs one, as Django describes it;
- results.py: a task row as a django.tasks TaskResult;
- unique.py: which enqueues count as the same task;
- periodic.py: periodic tasks declared in settings or code (`@periodic`).
"""

from tasks.backends.postgres import PostgresBackend

__all__ = ["PostgresBackend"]
