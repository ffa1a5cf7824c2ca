"""The admin of workflows and batches: read-only lists with counts by status, pages
that link to their tasks, and a confirmed, audited "cancel" action.

Rows are the queue's (tasks.queue.workflows and .batches build and finish them):
nothing is added, edited or deleted here. Cancelling goes through
cancel_workflow / cancel_batch, as the REST API and the dashboard do.

Cost: a workflow's counts are one grouped subquery per listed row, in the
list's own statement (the partial index task_workflow_idx finds its tasks), so
a page is the same few queries whatever its size; a batch keeps its counts on
its row. A page shows at most TASKS_SHOWN tasks and links to the task list
filtered by workflow_id or batch_id for the rest.
"""

import uuid

from django.contrib import admin
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import JSONField
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from tasks.admin.scoped import EstimatedCountPaginator, ScopedAdmin
from tasks.models import Batch, Dependency, Task, Workflow
from tasks.models.task_ids import id_prefix_range, short_id
from tasks.models.workflow import workflow_status
from tasks.queue.batches import cancel_batch
from tasks.queue.workflows import cancel_workflow

TASKS_SHOWN = 200

# {status: count} of the workflow's tasks, computed in the list's statement (no query per row).
WORKFLOW_COUNTS = """
SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}'::jsonb)
FROM (SELECT status, count(*) AS n FROM tasks_task WHERE workflow_id = tasks_workflow.id GROUP BY status) s
"""


class FlowAdmin(ScopedAdmin):
    """What both share: read-only rows, search by id or name, a cancel action."""

    kind = "task"
    paginator = EstimatedCountPaginator
    list_per_page = 50
    search_fields = ("name",)
    search_help_text = "An id, the start of an id (4 hex digits or more), or part of the name."
    actions = ("cancel_selected",)
    noun = ""  # "workflow" or "batch"

    def has_add_permission(self, request):
        return False  # built by tasks.queue (the API, the Python API)

    def has_change_permission(self, request, obj=None):
        return False  # every field is the queue's; cancel with the action

    def has_delete_permission(self, request, obj=None):
        return False  # its tasks are pruned with the finished tasks

    def get_search_results(self, request, queryset, search_term):
        text = search_term.strip()
        try:
            return queryset.filter(id=uuid.UUID(text)), False
        except ValueError:
            pass
        by_prefix = id_prefix_range(text, min_digits=4) if text else None
        if by_prefix is not None and queryset.filter(by_prefix).exists():
            return queryset.filter(by_prefix), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="id", ordering="id")
    def short_id(self, row):
        return short_id(row.pk)

    @admin.action(description="Cancel the selected (tasks not started; running ones finish)", permissions=["operate"])
    def cancel_selected(self, request, queryset):
        rows = list(queryset)
        asked = self.confirm(request, queryset, action="cancel_selected", question=(
            f"Cancel {len(rows)} selected {self.noun}(s)? Their tasks that have not started are cancelled; "
            f"running tasks finish."))
        if asked is not None:
            return asked
        total = 0
        for row in rows:
            count = self.cancel(row)
            total += count
            self.record(request, f"{self.noun}.cancel", f"{self.noun} {row.id}", count, ids=[row.id])
        self.message_user(request, f"{len(rows)} {self.noun}(s) cancelled: {total} task(s) that had not started.")

    def cancel(self, row) -> int:
        raise NotImplementedError

    def task_links(self, tasks, total: int, lookup: str, row) -> str:
        """A table of tasks linked to their pages, and the filtered task list for all of them."""
        body = format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td>'
                                    '<td><b class="queue-status queue-status-{}">{}</b></td><td>{}</td></tr>',
                                ((reverse("admin:tasks_task_change", args=[task.pk]), short_id(task.pk),
                                  getattr(task, "node", "") or "–", task.type, task.status, task.status, extra)
                                 for task, extra in tasks))
        every = reverse("admin:tasks_task_changelist") + f"?{lookup}={row.pk}"
        return format_html('<table><thead><tr><th>task</th><th>node</th><th>type</th><th>status</th><th>{}</th>'
                           '</tr></thead><tbody>{}</tbody></table><p><a href="{}">All {} task(s) in the task list</a>'
                           '</p>', "depends on" if lookup == "workflow_id" else "", body, every, total)


@admin.register(Workflow)
class WorkflowAdmin(FlowAdmin):
    noun = "workflow"
    list_display = ("short_id", "name", "status", "size", "counts", "created_at")
    fields = readonly_fields = ("id", "name", "status", "counts", "created_at", "tasks")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(task_counts=RawSQL(WORKFLOW_COUNTS, [], output_field=JSONField()))

    def cancel(self, row) -> int:
        return cancel_workflow(row.id)

    @admin.display(description="status")
    def status(self, row):
        word = workflow_status(row.task_counts) if row.task_counts else "empty"
        return format_html('<b class="queue-status queue-status-{}">{}</b>', word, word)

    @admin.display(description="tasks")
    def size(self, row):
        return sum(row.task_counts.values())

    @admin.display(description="by status")
    def counts(self, row):
        return ", ".join(f"{n} {status}" for status, n in sorted(row.task_counts.items())) or "–"

    @admin.display(description="nodes")
    def tasks(self, row):
        nodes = list(Task.objects.filter(workflow_id=row.id).order_by("id")
                     .only("id", "node", "type", "status")[:TASKS_SHOWN])
        deps: dict = {}
        for task_id, name, ignore in (Dependency.objects.filter(task__in=[t.pk for t in nodes])
                                      .values_list("task_id", "depends_on__node", "ignore_failed")):
            deps.setdefault(task_id, []).append(f"{name} (ignore failed)" if ignore else name)
        return self.task_links([(t, ", ".join(deps.get(t.pk, [])) or "–") for t in nodes],
                               sum(row.task_counts.values()), "workflow_id", row)


class BatchStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "state"
    STATES = {"open": {"closed": False}, "running": {"closed": True, "finished_at__isnull": True},
              "finished": {"finished_at__isnull": False}}

    def lookups(self, request, model_admin):
        return [("open", "open (tasks may be added)"), ("running", "closed, running"), ("finished", "finished")]

    def queryset(self, request, queryset):
        return queryset.filter(**self.STATES[self.value()]) if self.value() in self.STATES else queryset


@admin.register(Batch)
class BatchAdmin(FlowAdmin):
    noun = "batch"
    list_display = ("short_id", "name", "status", "total", "pending", "completed", "failed", "cancelled",
                    "progress_percent", "created_at", "finished_at")
    list_filter = (BatchStatusFilter,)
    fields = readonly_fields = ("id", "name", "status", "closed", "total", "pending", "completed", "failed",
                                "cancelled", "progress_percent", "callbacks", "created_at", "finished_at", "tasks")

    def cancel(self, row) -> int:
        return cancel_batch(row.id)

    @admin.display(description="status")
    def status(self, row):
        return format_html('<b class="queue-status queue-status-{}">{}</b>', row.status, row.status)

    @admin.display(description="pending")
    def pending(self, row):
        return row.pending

    @admin.display(description="progress")
    def progress_percent(self, row):
        return f"{row.progress:.0%}"

    @admin.display(description="callbacks")
    def callbacks(self, row):
        ids = {name: getattr(row, name) for name in ("on_success", "on_failure", "on_complete") if getattr(row, name)}
        statuses = dict(Task.objects.filter(pk__in=ids.values()).values_list("pk", "status"))
        return format_html_join(", ", '{} <a href="{}">{}</a> ({})',
                                ((name, reverse("admin:tasks_task_change", args=[pk]), short_id(pk),
                                  statuses.get(pk, "gone")) for name, pk in ids.items())) or "–"

    @admin.display(description="tasks")
    def tasks(self, row):
        tasks = Task.objects.filter(batch_id=row.id).order_by("id").only("id", "node", "type", "status")[:TASKS_SHOWN]
        return self.task_links([(t, "") for t in tasks], row.total, "batch_id", row)
