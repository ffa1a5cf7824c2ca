"""The no-op django.tasks function of the benchmark's "django.tasks" rows.

Defined here, outside any app's `tasks` module and not listed in
QUEUE_HANDLER_MODULES: workers find it through the module its rows record, as
they would a Django project's task in `billing/jobs.py`.
"""

from django.tasks import task


@task
def noop(n: int = 0, sent_at: float | None = None) -> None:
    """Does nothing; the arguments make each call a distinct one, as real calls are."""
    return None
