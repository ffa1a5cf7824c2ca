"""Webhook deliveries: an outbox written in the same statement as the outcome."""

from django.db import models
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    # Waiting for its first or next attempt.
    PENDING = "pending", "Pending"
    # The receiver answered 2xx.
    DELIVERED = "delivered", "Delivered"
    # Every attempt failed; kept for inspection.
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    # Cascades in the database, so a raw DELETE (pruning) takes its deliveries along.
    task = models.ForeignKey("tasks.Task", on_delete=models.DB_CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, default="task.completed")
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    response_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # One entry per attempt: at, status code or error, duration in ms.
    log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.status})"
