"""Dead letters: failed tasks, newest failure first, with their last error;
filters by queue, type and text; retry or delete one, the selected, or every
one the filter matches (dashboard/views/bulk.py); live."""

from dashboard.access import reader
from dashboard.rendering import render_live
from dashboard.views.tasks import list_context
from tasks.models import TaskStatus


@reader
def dead_letter_list(request):
    return render_live(request, "dashboard/dead_letters.html", list_context(request, fixed_status=TaskStatus.FAILED))
