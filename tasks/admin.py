"""The Django admin: every model, read-only where the queue manages the data.

Status changes go through tasks.queue (the actions below), never through the
edit form, so the admin cannot put a task in a state the worker does not
expect. Lists stay usable at millions of rows: no COUNT(*) of the whole table
(the statistics counters instead), and filters whose choices come from the
registry and the counters rather than a SELECT DISTINCT over tasks.
"""

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from tasks import queue
from tasks.backends import periodic
from tasks.handlers import registry
from tasks.models import Queue, Schedule, Task, TaskStatus, WebhookDelivery, Worker
from tasks.telemetry import counters

STATUS_COLOURS = {
    TaskStatus.PENDING: "#1d6fd8", TaskStatus.COMPLETED: "#1a7f37", TaskStatus.FAILED: "#cf222e",
    TaskStatus.SCHEDULED: "#d97706", TaskStatus.PROCESSING: "#8250df", TaskStatus.CANCELLED: "#6e7781",
}


class TaskCountPaginator(Paginator):
    """Counts the unfiltered task list from the trigger-maintained counters
    (tasks.telemetry.counters): exact, and free at any size, where COUNT(*) over millions of
    rows takes seconds. A filtered list is counted by the database."""

    @cached_property
    def count(self) -> int:
        if self.object_list.query.where:
            return super().count
        return sum(sum(statuses.values()) for statuses in counters.counts().values())


class TypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in registry.exposed_names()]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        names = set(counters.counts()) | set(Queue.objects.values_list("name", flat=True))
        return [(name, name) for name in sorted(names)]

    def queryset(self, request, queryset):
        return queryset.filter(queue=self.value()) if self.value() else queryset


class PriorityFilter(admin.SimpleListFilter):
    title = "priority"
    parameter_name = "priority_band"
    BANDS = {"high": {"priority__gt": 0}, "normal": {"priority": 0}, "low": {"priority__lt": 0}}

    def lookups(self, request, model_admin):
        return [("high", "high (> 0)"), ("normal", "normal (0)"), ("low", "low (< 0)")]

    def queryset(self, request, queryset):
        return queryset.filter(**self.BANDS[self.value()]) if self.value() in self.BANDS else queryset


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = ("event", "url", "status", "attempts", "response_code", "last_error", "delivered_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("short_id", "type", "coloured_status", "queue", "priority", "retries", "created_at",
                    "completed_at", "has_webhook")
    list_filter = ("status", TypeFilter, QueueFilter, PriorityFilter)
    search_fields = ("=id", "=type", "=queue", "last_error")
    date_hierarchy = "created_at"
    paginator = TaskCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ("retry_tasks", "cancel_tasks", "run_tasks_now")
    inlines = (DeliveryInline,)
    # What operators may adjust; everything the worker writes is read-only.
    fields = ("id", "type", "status", "queue", "priority", "run_at", "max_retries", "timeout", "webhook",
              "payload", "result", "last_error", "errors", "retry_count", "attempt", "worker_id",
              "progress", "progress_message", "unique_key", "idempotency_key",
              "created_at", "updated_at", "started_at", "completed_at")
    readonly_fields = ("id", "type", "status", "payload", "result", "last_error", "errors", "retry_count",
                       "attempt", "worker_id", "progress", "progress_message", "unique_key", "idempotency_key",
                       "created_at", "updated_at", "started_at", "completed_at")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload", "result", "errors")

    def has_add_permission(self, request):
        # New tasks need the checks of tasks.queue.build: the dashboard and the API do them.
        return False

    @admin.display(description="id", ordering="id")
    def short_id(self, task):
        return str(task.pk)[-8:]  # the random end of the UUIDv7; its start is the time

    @admin.display(description="status", ordering="status")
    def coloured_status(self, task):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(task.status, "#000"), task.status)

    @admin.display(description="retries")
    def retries(self, task):
        return task.retries_label

    @admin.display(description="webhook", boolean=True)
    def has_webhook(self, task):
        return bool(task.webhook)

    @admin.action(description="Retry the selected failed or cancelled tasks")
    def retry_tasks(self, request, queryset):
        self._report(request, queryset, queue.retry, "retried", "failed or cancelled")

    @admin.action(description="Cancel the selected scheduled or pending tasks")
    def cancel_tasks(self, request, queryset):
        self._report(request, queryset, queue.cancel, "cancelled", "scheduled or pending")

    @admin.action(description="Run the selected scheduled tasks now")
    def run_tasks_now(self, request, queryset):
        self._report(request, queryset, queue.run_now, "made pending", "scheduled")

    def _report(self, request, queryset, change, verb: str, allowed: str) -> None:
        selected = queryset.count()
        changed = change(queryset)
        self.message_user(request, f"{changed} of {selected} selected tasks {verb}.", messages.SUCCESS)
        if changed < selected:
            self.message_user(request, f"{selected - changed} skipped: only {allowed} tasks can be {verb}.",
                              messages.WARNING)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("name", "state", "queue_list", "concurrency", "last_heartbeat", "processed", "failed",
                    "started_at")
    list_filter = ("state", "hostname")
    search_fields = ("hostname", "=pid")
    date_hierarchy = "started_at"
    actions = ("pause_workers", "resume_workers")
    readonly_fields = ("id", "hostname", "pid", "queues", "concurrency", "state", "started_at",
                       "last_heartbeat", "stopped_at", "processed", "failed")

    def has_add_permission(self, request):
        return False  # a worker row belongs to a running `manage.py worker`

    @admin.display(description="queues")
    def queue_list(self, worker):
        return ", ".join(worker.queues)

    @admin.action(description="Pause the selected workers")
    def pause_workers(self, request, queryset):
        changed = sum(worker.pause() for worker in queryset)
        self.message_user(request, f"{changed} worker(s) paused.")

    @admin.action(description="Resume the selected workers")
    def resume_workers(self, request, queryset):
        changed = sum(worker.resume() for worker in queryset)
        self.message_user(request, f"{changed} worker(s) resumed.")


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "paused", "max_pending", "updated_at")
    list_editable = ("max_pending",)
    list_filter = ("paused",)
    search_fields = ("name",)
    actions = ("pause_queues", "resume_queues")
    # Pausing goes through Queue.pause/resume, which also wake the workers.
    readonly_fields = ("paused", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ("name", *self.readonly_fields)

    @admin.action(description="Pause the selected queues")
    def pause_queues(self, request, queryset):
        for row in queryset:
            Queue.pause(row.name)
        self.message_user(request, f"{len(queryset)} queue(s) paused.")

    @admin.action(description="Resume the selected queues")
    def resume_queues(self, request, queryset):
        for row in queryset:
            Queue.resume(row.name)
        self.message_user(request, f"{len(queryset)} queue(s) resumed.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "task_id", "event", "url", "status", "attempts", "response_code", "created_at",
                    "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("url", "=task__id")
    date_hierarchy = "created_at"
    list_select_related = False
    raw_id_fields = ("task",)
    readonly_fields = ("task", "event", "url", "status", "attempts", "next_attempt_at", "response_code",
                       "last_error", "log", "created_at", "delivered_at")

    def has_add_permission(self, request):
        return False


# --- Periodic schedules -------------------------------------------------------


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "cron", "timezone", "task_type", "queue", "enabled", "next_run_at", "last_run_at",
                    "last_task", "declared"]
    list_filter = ["enabled", "declared", "queue", "missed"]
    search_fields = ["name", "task_type"]
    readonly_fields = ["declared", "next_run_at", "last_run_at", "last_task", "last_error", "created_at", "updated_at"]
    raw_id_fields = ["last_task"]
    actions = ["enable", "disable", "run_now"]

    def save_model(self, request, obj, form, change):
        # A new schedule, a new cron or zone, or re-enabling: the next tick counts from now.
        if not change or {"cron", "timezone", "enabled"} & set(form.changed_data):
            obj.plan(timezone.now())
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected schedules")
    def enable(self, request, queryset):
        for schedule in queryset.filter(enabled=False):
            schedule.set_enabled(True, timezone.now())

    @admin.action(description="Disable selected schedules")
    def disable(self, request, queryset):
        for schedule in queryset.filter(enabled=True):
            schedule.set_enabled(False, timezone.now())

    @admin.action(description="Run selected schedules now")
    def run_now(self, request, queryset):
        for schedule in queryset:
            task = periodic.run_now(schedule, timezone.now())
            self.message_user(request, f"{schedule.name}: task {task.id} ({task.status}).", messages.SUCCESS)

