"""The audit log: every action taken in the dashboard and the admin, newest first; live."""

from django.utils import timezone

from dashboard.access import reader
from dashboard.rendering import render_live
from tasks.models import AuditEntry

PAGE_SIZE = 100


@reader
def audit_log(request):
    entries = AuditEntry.objects.select_related(None)
    if action := request.GET.get("action", "").strip():
        entries = entries.filter(action=action)
    if user := request.GET.get("user", "").strip():
        entries = entries.filter(username=user)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(id__lt=int(before))
    rows = list(entries.order_by("-id")[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    query = request.GET.copy()
    query.pop("before", None)
    if older:
        query["before"] = older
    return render_live(request, "dashboard/audit.html", {
        "entries": rows[:PAGE_SIZE], "now": timezone.now(), "action": action, "user_filter": user,
        "older": query.urlencode() if older else None, "paged": bool(before),
    })
