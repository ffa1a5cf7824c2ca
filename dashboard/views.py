"""Server-rendered monitoring pages, for staff users."""

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.utils import timezone

from tasks import stats
from tasks.models import Task


@staff_member_required
def overview(request):
    now = timezone.now()
    context = {
        "stats": stats.summary(now),
        "recent": Task.objects.all()[:20],
        "now": now,
    }
    return render(request, "dashboard/overview.html", context)
