"""Queues: a name that tasks carry, and the settings operators give it."""

from django.db import models

from tasks.db import wake_workers


class Queue(models.Model):
    """Settings of one named queue. A queue exists as soon as a task names it;
    a row is only needed to pause it or give it its own limits."""

    name = models.CharField(max_length=100, primary_key=True)
    paused = models.BooleanField(default=False)
    max_pending = models.PositiveIntegerField(
        null=True, blank=True, help_text="Backpressure: refuse new tasks beyond this many pending."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def pause(cls, name: str) -> "Queue":
        """Workers stop claiming from this queue; tasks can still be enqueued."""
        queue, _ = cls.objects.update_or_create(name=name, defaults={"paused": True})
        return queue

    @classmethod
    def resume(cls, name: str) -> "Queue":
        queue, _ = cls.objects.update_or_create(name=name, defaults={"paused": False})
        wake_workers(name)
        return queue

    @classmethod
    def is_paused(cls, name: str) -> bool:
        return cls.objects.filter(name=name, paused=True).exists()
