"""The audit log: who did what to the queue, when, and to how many tasks.

Every operator action of the dashboard and the admin (retry, cancel, purge,
pause, bulk actions, schedule and queue changes...) writes one entry through
`record`, after the change, with the number of rows it changed. Entries are
never edited; the dashboard and the admin show them read-only.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

# Ids kept in an entry's details: enough to follow a small selection, bounded for a huge one.
MAX_IDS = 100


class Source(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard"
    ADMIN = "admin", "Django admin"
    API = "api", "REST API"


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now)
    # Kept as text too: the entry outlives the account.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    # A dotted verb: task.retry, tasks.cancel, queue.pause, schedule.run, delivery.redeliver...
    action = models.CharField(max_length=60)
    # What it acted on, in words: "task echo 1de58514", "queue emails", "tasks matching status=failed".
    target = models.CharField(max_length=500)
    count = models.IntegerField(help_text="Rows the action changed.")
    # The filter of a bulk action, or the ids of a selection (at most MAX_IDS).
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '?'} {self.action} {self.target} ({self.count})"


def record(user, action: str, target: str, count: int, *, source: str,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Write one audit entry for an action that `user` just performed."""
    details = dict(details or {})
    if "ids" in details:
        details["ids"] = [str(i) for i in list(details["ids"])[:MAX_IDS]]
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    return AuditEntry.objects.create(
        user=user if signed_in else None, username=user.get_username() if signed_in else "",
        source=source, action=action, target=target[:500], count=count, details=details,
    )
