"""Periodic schedules: a cron expression, a time zone, and the task to enqueue at each tick."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import models
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY

from tasks import validation
from tasks.models.task import Task

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


class MissedTicks(models.TextChoices):
    # Ticks missed while no worker ran are coalesced into one run on recovery.
    RUN_ONCE = "run_once", "Run once on recovery"
    # Ticks missed by more than QUEUE_SCHEDULE_GRACE are dropped.
    SKIP = "skip", "Skip"


class ScheduleQuerySet(models.QuerySet):
    def due(self, now: datetime):
        """Enabled schedules whose next tick has come."""
        return self.filter(enabled=True, next_run_at__lte=now)

    def unplanned(self):
        """Enabled schedules with no next tick yet (new, or just enabled)."""
        return self.filter(enabled=True, next_run_at__isnull=True)


class Schedule(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    cron = models.CharField(max_length=100, help_text="Five fields (minute hour day month weekday) or @hourly, @daily...")
    timezone = models.CharField(max_length=64, default="UTC", help_text="The zone the cron fields are read in.")
    task_type = models.CharField(max_length=100, help_text="A registered task type, or a @task's type name.")
    payload = models.JSONField(
        null=True, blank=True, help_text='For a @task: {"args": [...], "kwargs": {...}}.'
    )
    queue = models.CharField(max_length=100, default="default")
    priority = models.SmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    missed = models.CharField(max_length=10, choices=MissedTicks.choices, default=MissedTicks.RUN_ONCE,
                              help_text="What happens to ticks missed while no worker ran.")
    # Declared in settings or code: the definition is the code's, `enabled` the operator's.
    declared = models.BooleanField(default=False, editable=False)

    next_run_at = models.DateTimeField(null=True, blank=True, help_text="The next tick.")
    last_run_at = models.DateTimeField(null=True, blank=True,
                                       help_text="The last tick that enqueued a task; Run now leaves it alone.")
    # Set to NULL by the database, so pruning old tasks with a raw DELETE keeps working.
    last_task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+",
                                  help_text="The last task enqueued, by a tick or by Run now.")
    last_error = models.TextField(blank=True, help_text="Why the last tick enqueued nothing.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["next_run_at"], name="schedule_due_idx", condition=models.Q(enabled=True)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=TASK_MIN_PRIORITY, priority__lte=TASK_MAX_PRIORITY),
                name="schedule_priority_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron}, {self.timezone})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after `after`, in UTC."""
        return croniter(self.cron, after.astimezone(self.zone)).get_next(datetime).astimezone(UTC)

    def latest_tick(self, now: datetime) -> datetime:
        """The last tick at or before `now`, in UTC."""
        start = (now + timedelta(microseconds=1)).astimezone(self.zone)
        return croniter(self.cron, start).get_prev(datetime).astimezone(UTC)

    def plan(self, now: datetime) -> None:
        """Set the next tick after `now` (unsaved): on creation, a new cron, or re-enabling."""
        self.next_run_at = self.next_tick(now) if self.enabled else None

    def set_enabled(self, enabled: bool, now: datetime) -> None:
        """Turn the schedule on or off. Turned on, its next tick counts from `now`:
        the time it was off has no missed ticks to catch up."""
        self.enabled = enabled
        self.plan(now)
        self.save(update_fields=["enabled", "next_run_at", "updated_at"])

    def clean(self) -> None:
        errors = {}
        if message := cron_error(self.cron):
            errors["cron"] = [message]
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"Unknown time zone {self.timezone!r}; use an IANA name such as Europe/Paris."]
        checks = {
            "task_type": validation.type_error(self.task_type),
            "queue": validation.queue_error(self.queue),
            "priority": validation.priority_error(self.priority),
        }
        if not checks["task_type"]:
            checks["payload"] = validation.payload_error(self.task_type, self.payload)
        errors.update({field: [message] for field, message in checks.items() if message})
        if errors:
            raise ValidationError(errors)


def cron_error(expression) -> str | None:
    """Why `expression` is not a five-field cron or an @alias, or None."""
    if not isinstance(expression, str):
        return "A cron expression is a string."
    expression = expression.strip()
    if expression.startswith("@"):
        if expression in ALIASES:
            return None
        return f"Unknown alias {expression!r}; use one of {', '.join(ALIASES)}."
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return f"{expression!r} is not a five-field cron expression such as '*/15 * * * *' (minute hour day month weekday)."
    return None
