"""The task admin: lists that stay fast at millions of rows, edits that mean something.

- Status changes are actions through tasks.queue (retry, cancel, run now,
  delete finished), never the edit form, so the admin cannot put a task in a
  state the worker does not expect, or delete one a worker is running.
- A task that waits (scheduled or pending) can be edited: its run time goes
  through queue.reschedule (a time to come makes it scheduled, a past one
  runnable), its other fields through an update that applies only while it
  still waits; a dead letter (failed or cancelled) can have its options
  changed before a retry. A running or completed task is read-only.
- Every field is checked as the REST API checks it (tasks/validation.py).
- Lists: no COUNT(*) of the table (the counters, or PostgreSQL's estimate),
  filters whose choices come from the registry and the counters, creation
  time as id ranges (UUIDv7) instead of a date hierarchy, and search by id,
  short id or id prefix through the primary key.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from dashboard.listing import counted, estimate
from tasks import queue, validation
from tasks.admin.scoped import ScopedAdmin, report
from tasks.handlers import registry
from tasks.models import (
    FINISHED_STATUSES,
    Queue,
    Task,
    TaskStatus,
    WebhookDelivery,
)
from tasks.models.task_ids import matching_id, short_id, uuid7_floor
from tasks.telemetry import counters

OPTIONS = ("queue", "priority", "max_retries", "timeout", "webhook")
# The fields an operator may change, by status; the rest is the queue's.
EDITABLE = {TaskStatus.SCHEDULED: ("run_at", *OPTIONS), TaskStatus.PENDING: ("run_at", *OPTIONS),
            TaskStatus.FAILED: OPTIONS, TaskStatus.CANCELLED: OPTIONS}
# Filters the counters count exactly; any other makes the count an estimate.
COUNTED_PARAMS = {"status__exact", "queue", "p", "o", "_changelist_filters"}


class TaskCountPaginator(Paginator):
    """Counts from the trigger-maintained counters (tasks.telemetry.counters) when
    the list is filtered by status and queue only: exact, and free at any size,
    where COUNT(*) over millions of rows takes seconds. Other filters get
    PostgreSQL's estimate, which is free too."""

    def __init__(self, *args, params=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = params or {}

    @cached_property
    def count(self) -> int:
        if set(self.params) <= COUNTED_PARAMS:
            status = self.params.get("status__exact")
            return counted({status} if status else None, self.params.get("queue", ""))
        return estimate(self.object_list)


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


class CreatedFilter(admin.SimpleListFilter):
    """Creation time as a range of ids (UUIDv7 starts with its creation time): the
    primary key seeks to it, where a date hierarchy scans the table for its dates."""

    title = "created"
    parameter_name = "created"
    SPANS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("hour", "in the last hour"), ("day", "in the last 24 hours"), ("week", "in the last 7 days"),
                ("older", "more than 7 days ago")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in self.SPANS:
            return queryset.filter(id__gte=uuid7_floor(now - self.SPANS[self.value()]))
        if self.value() == "older":
            return queryset.filter(id__lt=uuid7_floor(now - self.SPANS["week"]))
        return queryset


class TaskAdminForm(forms.ModelForm):
    """The REST API's checks, field by field, all reported at once."""

    class Meta:
        model = Task
        fields = "__all__"

    def clean(self):
        data = super().clean()
        checks = {"queue": validation.queue_error, "priority": validation.priority_error,
                  "max_retries": validation.max_retries_error, "timeout": validation.timeout_error,
                  "webhook": validation.webhook_error}
        for field, check in checks.items():
            if field in data and field not in self.errors and (message := check(data[field])):
                self.add_error(field, message)
        return data


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = ("event", "url", "status", "attempts", "response_code", "last_error", "delivered_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(ScopedAdmin):
    kind = "task"
    form = TaskAdminForm
    list_display = ("short_id", "type", "coloured_status", "queue", "priority", "retries", "created_at",
                    "completed_at")
    list_filter = ("status", TypeFilter, QueueFilter, PriorityFilter, CreatedFilter)
    search_fields = ("=type", "=queue", "last_error")
    search_help_text = "A task id, a short id, the start of an id, a type or a queue (exactly), or text of an error."
    list_per_page = 50
    actions = ("retry_tasks", "cancel_tasks", "run_tasks_now", "delete_finished")
    inlines = (DeliveryInline,)
    fields = ("id", "type", "status", "queue", "priority", "run_at", "max_retries", "timeout", "webhook",
              "payload_json", "result_json", "last_error", "attempt_errors", "retry_count", "attempt", "worker_id",
              "progress", "progress_message", "unique_key", "idempotency_key", "part_of",
              "created_at", "updated_at", "started_at", "completed_at")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload", "result", "errors")

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return TaskCountPaginator(queryset, per_page, orphans, allow_empty_first_page, params=request.GET)

    def get_readonly_fields(self, request, obj=None):
        editable = EDITABLE.get(obj.status, ()) if obj is not None else ()
        return [f for f in self.fields if f not in editable]

    def get_search_results(self, request, queryset, search_term):
        by_id = matching_id(search_term, min_prefix=4) if search_term.strip() else None
        if by_id is not None and queryset.filter(by_id).exists():
            return queryset.filter(by_id), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        # New tasks need the checks of tasks.queue.build: the dashboard and the API do them.
        return False

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request) and (obj is None or obj.status in FINISHED_STATUSES)

    def save_model(self, request, obj, form, change):
        """Write only the changed fields, and only while the task's status still allows them."""
        now = timezone.now()
        wanted = [f for f in form.changed_data if f in EDITABLE.get(obj.status, ())]
        options = {f: getattr(obj, f) for f in wanted if f != "run_at"}
        one = Task.objects.filter(pk=obj.pk)
        saved = 0
        if options:
            # Only while it is in the status the form was shown for: a worker may have claimed it since.
            saved = one.filter(status=obj.status).update(updated_at=now, **options)
        if "run_at" in wanted and (saved or not options):
            saved = queue.reschedule(one, obj.run_at, now=now)
        if wanted and not saved:
            current = one.values_list("status", flat=True).first()
            messages.warning(request, f"Nothing was saved: the task is {current or 'gone'} now.")
        self.record(request, "task.change", f"task {obj.type} {short_id(obj.pk)}", saved,
                    fields=sorted(wanted), ids=[obj.pk])

    def delete_model(self, request, obj):
        deleted = Task.objects.filter(pk=obj.pk, status__in=FINISHED_STATUSES).delete()[0]
        self.record(request, "task.delete", f"task {obj.type} {short_id(obj.pk)}", deleted, ids=[obj.pk])

    @admin.display(description="id", ordering="id")
    def short_id(self, task):
        return short_id(task.pk)

    @admin.display(description="status", ordering="status")
    def coloured_status(self, task):
        # A class, not a style attribute: the Content-Security-Policy refuses inline styles (tasks/static/tasks/admin.css).
        return format_html('<b class="queue-status queue-status-{}">{}</b>', task.status, task.status)

    @admin.display(description="part of")
    def part_of(self, task):
        """Its workflow (with its node name) or batch, linked to their admin pages."""
        links = [format_html('workflow <a href="{}">{}</a> as node {}',
                             reverse("admin:tasks_workflow_change", args=[task.workflow_id]),
                             short_id(task.workflow_id), task.node)] if task.workflow_id else []
        if task.batch_id:
            links.append(format_html('batch <a href="{}">{}</a>', reverse("admin:tasks_batch_change",
                                                                          args=[task.batch_id]), short_id(task.batch_id)))
        return format_html_join("; ", "{}", ((link,) for link in links)) or "–"

    @admin.display(description="retries")
    def retries(self, task):
        return task.retries_label

    @admin.display(description="payload")
    def payload_json(self, task):
        return pretty(task.payload)

    @admin.display(description="result")
    def result_json(self, task):
        return pretty(task.result) if task.status == TaskStatus.COMPLETED else "–"

    @admin.display(description="errors")
    def attempt_errors(self, task):
        """Each failed attempt with its error and traceback, as text, not escaped JSON."""
        if not task.errors:
            return "–"
        return format_html_join(
            "", '<div class="attempt"><p><b>Attempt {}</b> · {} · worker {}<br><span class="queue-error">{}: {}</span>'
                '</p><pre class="queue-pre">{}</pre></div>',
            ((e.get("attempt", "?"), e.get("at", ""), e.get("worker", ""), e.get("type", "Error"),
              e.get("message", ""), e.get("traceback", "")) for e in task.errors))

    @admin.action(description="Retry the selected failed or cancelled tasks", permissions=["operate"])
    def retry_tasks(self, request, queryset):
        self._change(request, queryset, queue.retry, "retried", "failed or cancelled", "retry")

    @admin.action(description="Cancel the selected scheduled or pending tasks", permissions=["operate"])
    def cancel_tasks(self, request, queryset):
        self._change(request, queryset, queue.cancel, "cancelled", "scheduled or pending", "cancel")

    @admin.action(description="Run the selected scheduled tasks now", permissions=["operate"])
    def run_tasks_now(self, request, queryset):
        self._change(request, queryset, queue.run_now, "made pending", "scheduled", "run_now")

    @admin.action(description="Delete the selected finished tasks", permissions=["operate"])
    def delete_finished(self, request, queryset):
        selected = len(queryset)
        finished = queryset.filter(status__in=FINISHED_STATUSES)
        count = finished.count()
        asked = self.confirm(request, queryset, action="delete_finished", question=(
            f"Delete {count} of the {selected} selected tasks, with their webhook deliveries? Only finished "
            f"(completed, failed or cancelled) tasks are deleted; the others are left as they are."))
        if asked is not None:
            return asked
        deleted = Task.objects.filter(pk__in=finished.values("pk"), status__in=FINISHED_STATUSES).delete()[0]
        self.record(request, "tasks.delete", f"{selected} selected tasks", deleted,
                    ids=list(queryset.values_list("pk", flat=True)))
        report(self, request, deleted, selected, "deleted", "finished")

    def _change(self, request, queryset, change, verb: str, allowed: str, action: str) -> None:
        selected = len(queryset)
        changed = change(queryset)
        self.record(request, f"tasks.{action}", f"{selected} selected tasks", changed,
                    ids=list(queryset.values_list("pk", flat=True)))
        report(self, request, changed, selected, verb, allowed)


def pretty(value) -> str:
    return format_html('<pre class="queue-pre">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))
