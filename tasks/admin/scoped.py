"""What every model admin of the queue shares: permissions by scope, the audit
log, a confirmation page for destructive actions, and counts that stay cheap.

- Permissions. The admin asks the dashboard's question (dashboard/access.py,
  over tasks.access): seeing needs `read`; each model says which kind of action
  its changes are (`kind`), and so which scope they need. Django's own
  per-model permissions are not consulted: the scopes are the permissions.
- Audit. Every action and every save writes an entry (tasks/models/audit.py).
- Confirmation. Destructive actions (delete) show how many rows will change and ask.
- Counts. The changelist's count is the trigger-maintained counters when they
  can say it, else PostgreSQL's estimate when the table is large: a COUNT(*)
  of millions of rows takes seconds.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.core.paginator import Paginator
from django.db import connection
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from dashboard.access import allows
from dashboard.listing import estimate
from tasks.access import Scope, scopes_of
from tasks.models import Source, audit

# Below this many rows (by PostgreSQL's statistics) a table is counted exactly.
EXACT_BELOW = 10_000


class ScopedAdmin(admin.ModelAdmin):
    """Permissions from the scopes: view with `read`, change (and the actions)
    with the scope of `kind` (dashboard.access.ACTIONS)."""

    kind = "settings"
    show_full_result_count = False

    class Media:
        css = {"all": ["tasks/admin.css"]}  # classes instead of inline styles (the CSP refuses those)

    def has_module_permission(self, request):
        return Scope.READ in scopes_of(request.user)

    def has_view_permission(self, request, obj=None):
        return Scope.READ in scopes_of(request.user)

    def has_change_permission(self, request, obj=None):
        return allows(request.user, self.kind)

    def has_add_permission(self, request):
        return allows(request.user, self.kind)

    def has_delete_permission(self, request, obj=None):
        return allows(request.user, self.kind)

    def has_operate_permission(self, request):
        return Scope.OPERATE in scopes_of(request.user)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)  # replaced where deleting makes sense, with exact counts
        return actions

    def record(self, request, action: str, target: str, count: int, **details) -> None:
        audit.record(request.user, action, target, count, source=Source.ADMIN, details=details)

    def confirm(self, request, queryset, *, question: str, action: str):
        """None once the operator confirmed `question`, else the page that asks it."""
        if request.POST.get("confirm") == "yes":
            return None
        return TemplateResponse(request, "admin/tasks/confirm_action.html", {
            **self.admin_site.each_context(request), "title": "Please confirm", "question": question,
            "action": action, "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "opts": self.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.record(request, f"{self.model._meta.model_name}.{'change' if change else 'add'}",
                    f"{self.model._meta.verbose_name} {obj}", 1, fields=sorted(form.changed_data))

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self.record(request, f"{self.model._meta.model_name}.delete", f"{self.model._meta.verbose_name} {obj}", 1)


class EstimatedCountPaginator(Paginator):
    """Exact for a small table; PostgreSQL's estimate of the listed rows for a large one."""

    @cached_property
    def count(self) -> int:
        if table_size(self.object_list.model._meta.db_table) < EXACT_BELOW:
            return super().count
        return estimate(self.object_list)


def table_size(table: str) -> int:
    """The table's row count as PostgreSQL's statistics have it (-1: never analysed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row and row[0] >= 0 else 0


def report(modeladmin, request, changed: int, selected: int, verb: str, allowed: str, noun: str = "task") -> None:
    """The admin's message after an action: how many changed, and why the others did not."""
    modeladmin.message_user(request, f"{changed} of {selected} selected {noun}s {verb}.",
                            messages.SUCCESS if changed else messages.WARNING)
    if changed < selected:
        modeladmin.message_user(request, f"{selected - changed} skipped: only {allowed} {noun}s can be {verb}.",
                                messages.WARNING)
