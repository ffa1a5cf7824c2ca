from django.contrib import admin, messages
from django.utils import timezone

from tasks import schedules
from tasks.models import Schedule

# --- Periodic schedules (pyapi) ----------------------------------------------


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
            task = schedules.run_now(schedule, timezone.now())
            self.message_user(request, f"{schedule.name}: task {task.id} ({task.status}).", messages.SUCCESS)


# --- end of periodic schedules (pyapi) ---------------------------------------
