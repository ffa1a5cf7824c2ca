"""manage.py retry_failed: put dead letters matching a filter back to pending."""

from django.core.management.base import BaseCommand, CommandError

from tasks import queue as task_queue
from tasks.management.arguments import parse_time
from tasks.models import Task


class Command(BaseCommand):
    help = (
        "Retry failed tasks (the dead letters) that match every given filter: they go back to "
        "pending with a fresh set of retries and keep their error history. With no filter, every "
        "failed task is retried. --dry-run only counts them. "
        "Example: python manage.py retry_failed --queue mail --error 'Connection refused' --dry-run"
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", "-q", help="Only tasks of this queue.")
        parser.add_argument("--type", "-t", help="Only tasks of this type.")
        parser.add_argument("--error", help="Only tasks whose last error contains this text (any case).")
        parser.add_argument("--failed-after", help="Only tasks that failed at or after this ISO 8601 time.")
        parser.add_argument("--failed-before", help="Only tasks that failed before this ISO 8601 time.")
        parser.add_argument("--cancelled", action="store_true", help="Also retry cancelled tasks.")
        parser.add_argument("--dry-run", action="store_true", help="Count the matching tasks; change nothing.")

    def handle(self, *args, queue, type, error, failed_after, failed_before, cancelled, dry_run, **options):
        try:
            after = parse_time(failed_after) if failed_after else None
            before = parse_time(failed_before) if failed_before else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        tasks = Task.objects.dead_letters(queue=queue, type=type, error=error, failed_after=after,
                                          failed_before=before, cancelled=cancelled)
        if dry_run:
            self.stdout.write(f"Would retry {tasks.count()} task(s).")
            return
        self.stdout.write(f"Retried {task_queue.retry(tasks)} task(s).")
