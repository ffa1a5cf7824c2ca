"""manage.py purge_queue NAME: cancel every waiting task of a queue."""

from django.core.management.base import BaseCommand

from tasks import queue
from tasks.models import CANCELLABLE_STATUSES, Task


class Command(BaseCommand):
    help = (
        "Cancel every scheduled and pending task of queue NAME. Running tasks finish; the cancelled "
        "rows stay (status cancelled) as history until pruned, and `retry_failed --cancelled` can "
        "bring them back. --dry-run only counts them."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The queue to purge.")
        parser.add_argument("--dry-run", action="store_true", help="Count the tasks that would be cancelled.")

    def handle(self, *args, name, dry_run, **options):
        if dry_run:
            count = Task.objects.filter(queue=name, status__in=CANCELLABLE_STATUSES).count()
            self.stdout.write(f"Would cancel {count} task(s) of queue {name!r}.")
            return
        count = queue.purge(name)
        self.stdout.write(f"Cancelled {count} task(s) of queue {name!r}.")
