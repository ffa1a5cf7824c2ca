"""The admin of everything around the tasks: workers, queues, webhook deliveries,
periodic schedules and the audit log.

Rows the running system owns are read-only: a worker's row belongs to its
`manage.py worker` (only a dead one may be deleted), a delivery's to the
outbox (it can be sent again), the audit log to nobody. Pausing and
resuming go through Worker.pause/resume and Queue.pause/resume, which also
wake the workers.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tasks import conf, validation
from tasks.admin.scoped import EstimatedCountPaginator, ScopedAdmin, report
from tasks.backends import periodic
from tasks.models import AuditEntry, Queue, Schedule, WebhookDelivery, Worker, WorkerState
from tasks.models.task_ids import short_id
from tasks.webhooks import outbox


@admin.register(Worker)
class WorkerAdmin(ScopedAdmin):
    kind = "worker"
    list_display = ("name", "state", "alive", "queue_list", "concurrency", "busy", "last_heartbeat", "processed",
                    "failed", "started_at")
    list_filter = ("state", "hostname")
    search_fields = ("hostname", "=pid")
    date_hierarchy = "started_at"  # a small table: workers are pruned a day after their last heartbeat
    actions = ("pause_workers", "resume_workers", "delete_dead_workers")
    readonly_fields = fields = ("id", "hostname", "pid", "queues", "concurrency", "busy", "state", "started_at",
                                "last_heartbeat", "stopped_at", "processed", "failed")

    def has_add_permission(self, request):
        return False  # a worker row belongs to a running `manage.py worker`

    def has_change_permission(self, request, obj=None):
        return False  # every field is the worker's own; steer it with the actions

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request) and (obj is None or not obj.is_alive())

    @admin.display(boolean=True, description="alive")
    def alive(self, worker):
        return worker.live

    def get_queryset(self, request):
        cutoff = timezone.now() - timedelta(seconds=conf.get("WORKER_TIMEOUT"))
        live = Q(last_heartbeat__gte=cutoff) & ~Q(state=WorkerState.STOPPED)  # as Worker.objects.alive()
        return super().get_queryset(request).annotate(live=ExpressionWrapper(live, output_field=BooleanField()))

    @admin.display(description="queues")
    def queue_list(self, worker):
        return ", ".join(worker.queues)

    @admin.action(description="Pause the selected workers", permissions=["operate"])
    def pause_workers(self, request, queryset):
        self._steer(request, queryset, "pause", "paused", "running")

    @admin.action(description="Resume the selected workers", permissions=["operate"])
    def resume_workers(self, request, queryset):
        self._steer(request, queryset, "resume", "resumed", "paused")

    @admin.action(description="Delete the selected workers that are no longer alive", permissions=["delete"])
    def delete_dead_workers(self, request, queryset):
        selected = len(queryset)
        dead = queryset.exclude(pk__in=Worker.objects.alive().values("pk"))
        asked = self.confirm(request, queryset, action="delete_dead_workers", question=(
            f"Delete {dead.count()} of the {selected} selected worker rows? Live workers are left alone."))
        if asked is not None:
            return asked
        deleted = dead.delete()[0]
        self.record(request, "workers.delete", f"{selected} selected workers", deleted)
        report(self, request, deleted, selected, "deleted", "dead", noun="worker")

    def delete_model(self, request, obj):
        deleted = Worker.objects.filter(pk=obj.pk).exclude(pk__in=Worker.objects.alive().values("pk")).delete()[0]
        self.record(request, "worker.delete", f"worker {obj.name}", deleted)

    def _steer(self, request, queryset, method: str, verb: str, allowed: str) -> None:
        selected = len(queryset)
        changed = sum(getattr(worker, method)() for worker in queryset)
        self.record(request, f"workers.{method}", f"{selected} selected workers", changed)
        report(self, request, changed, selected, verb, allowed, noun="worker")


class QueueForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = "__all__"

    def clean_name(self):
        name = self.cleaned_data["name"]
        if message := validation.queue_error(name):
            raise forms.ValidationError(message)
        return name

    def clean_partition_by(self):
        path = self.cleaned_data["partition_by"]
        if path and not validation.PARTITION_PATH.match(path):
            raise forms.ValidationError("A dotted path into the payload, such as customer.id.")
        return path


@admin.register(Queue)
class QueueAdmin(ScopedAdmin):
    kind = "settings"
    form = QueueForm
    list_display = ("name", "paused", "max_pending", "max_running", "rate_limit", "rate_period",
                    "partition_max_running", "partition_rate_limit", "ordered", "updated_at")
    list_editable = ("max_pending", "max_running", "rate_limit", "rate_period", "partition_max_running",
                     "partition_rate_limit", "ordered")
    list_filter = ("paused", "ordered")
    search_fields = ("name",)
    actions = ("pause_queues", "resume_queues")
    # Pausing goes through Queue.pause/resume, which also wake the workers.
    readonly_fields = ("paused", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ("name", *self.readonly_fields)

    @admin.action(description="Pause the selected queues", permissions=["operate"])
    def pause_queues(self, request, queryset):
        self._steer(request, queryset, Queue.pause, "paused")

    @admin.action(description="Resume the selected queues", permissions=["operate"])
    def resume_queues(self, request, queryset):
        self._steer(request, queryset, Queue.resume, "resumed")

    def _steer(self, request, queryset, change, verb: str) -> None:
        names = [row.name for row in queryset]
        for name in names:
            change(name)
        self.record(request, f"queues.{verb.removesuffix('d')}", f"queues {', '.join(names)}", len(names))
        self.message_user(request, f"{len(names)} queue(s) {verb}.")


class EventFilter(admin.SimpleListFilter):
    """The two events deliveries are made for, without a SELECT DISTINCT over them all."""

    title = "event"
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return [("task.completed", "task.completed"), ("task.failed", "task.failed")]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdmin):
    kind = "delivery"
    list_display = ("id", "task_short_id", "event", "url", "status", "attempts", "response_code", "created_at",
                    "delivered_at")
    list_filter = ("status", EventFilter)
    search_fields = ("url", "=task__id")
    list_select_related = False
    list_per_page = 50
    paginator = EstimatedCountPaginator
    raw_id_fields = ("task",)
    actions = ("redeliver",)
    readonly_fields = fields = ("task", "event", "url", "status", "attempts", "next_attempt_at", "response_code",
                                "last_error", "attempt_log", "created_at", "delivered_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the outbox's rows; send one again with the action

    @admin.display(description="task")
    def task_short_id(self, delivery):
        return short_id(delivery.task_id)

    @admin.display(description="attempts log")
    def attempt_log(self, delivery):
        """Each attempt as a row, not escaped JSON."""
        if not delivery.log:
            return "–"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (e.get("attempt", ""), e.get("at", ""), e.get("status_code") or "–", e.get("error") or "ok",
             f"{e.get('ms', '')} ms") for e in delivery.log))
        return format_html("<table><tr><th>attempt</th><th>at</th><th>HTTP</th><th>error</th><th>took</th></tr>{}"
                           "</table>", rows)

    @admin.action(description="Deliver the selected webhooks again", permissions=["operate"])
    def redeliver(self, request, queryset):
        selected = len(queryset)
        changed = outbox.redeliver(queryset, timezone.now())
        self.record(request, "deliveries.redeliver", f"{selected} selected webhook deliveries", changed,
                    deliveries=list(queryset.values_list("pk", flat=True)))
        report(self, request, changed, selected, "sent again", "delivered or failed", noun="delivery")


@admin.register(Schedule)
class ScheduleAdmin(ScopedAdmin):
    kind = "schedule"
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

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable(self, request, queryset):
        self._switch(request, queryset, True)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable(self, request, queryset):
        self._switch(request, queryset, False)

    @admin.action(description="Run selected schedules now", permissions=["change"])
    def run_now(self, request, queryset):
        for schedule in queryset:
            task = periodic.run_now(schedule, timezone.now())
            self.record(request, "schedule.run", f"schedule {schedule.name}", 1, ids=[task.pk])
            self.message_user(request, f"{schedule.name}: task {task.id} ({task.status}).")

    def _switch(self, request, queryset, enabled: bool) -> None:
        changed = queryset.filter(enabled=not enabled)
        names = [schedule.name for schedule in changed]
        for schedule in changed:
            schedule.set_enabled(enabled, timezone.now())
        verb = "enable" if enabled else "disable"
        self.record(request, f"schedules.{verb}", f"schedules {', '.join(names) or '(none changed)'}", len(names))
        self.message_user(request, f"{len(names)} schedule(s) {verb}d.")


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedAdmin):
    list_display = ("at", "username", "source", "action", "target", "count")
    list_filter = ("source", "action")
    search_fields = ("=username", "target")
    list_per_page = 50
    paginator = EstimatedCountPaginator
    readonly_fields = fields = ("at", "user", "username", "source", "action", "target", "count", "details")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
