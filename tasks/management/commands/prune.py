"""manage.py prune: delete finished tasks and event-log rows past their retention now."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.maintenance import prune, prune_events


class Command(BaseCommand):
    help = (
        "Delete what housekeeping would delete on its next pass: completed and cancelled tasks older "
        "than QUEUE_RETENTION, failed tasks older than QUEUE_FAILED_RETENTION (0 keeps them forever), "
        "with their webhook deliveries, and event-log rows older than QUEUE_EVENT_RETENTION that the "
        "metrics have counted. Deletes in batches of 5000, each its own short transaction. "
        "--dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run, **options):
        now = timezone.now()
        if dry_run:
            for what, count in {**prune.expired(now), "event log rows": prune_events.expired(now)}.items():
                self.stdout.write(f"Would delete {count} {what}.")
            return
        for what, count in {"tasks": prune.run_once(now), "event log rows": prune_events.run_once(now)}.items():
            self.stdout.write(f"Deleted {count} {what}.")
