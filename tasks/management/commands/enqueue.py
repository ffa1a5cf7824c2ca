"""manage.py enqueue TYPE [PAYLOAD]: create tasks from the shell."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tasks import queue as task_queue
from tasks.management.arguments import parse_payload, parse_time


class Command(BaseCommand):
    help = (
        "Enqueue a task of a registered TYPE and print its id. PAYLOAD is JSON when it parses "
        "('{\"to\": \"a@example.com\"}', 42, '[1, 2]') and a plain string otherwise (user@example.com). "
        "The task is committed when the command returns; workers pick it up at once. "
        "Example: python manage.py enqueue email user@example.com --priority 5 --queue mail"
    )

    def add_arguments(self, parser):
        parser.add_argument("type", help="A registered task type, e.g. email, webhook, echo, sleep, fail.")
        parser.add_argument("payload", nargs="?", default=None, help="JSON, or a plain string. Default: null.")
        parser.add_argument("--queue", "-q", default="default", help="Queue name (default: default).")
        parser.add_argument("--priority", "-p", type=int, default=0, help="-100..100, higher runs first (default 0).")
        parser.add_argument("--max-retries", type=int, default=None,
                            help="Automatic retries (default QUEUE_DEFAULT_MAX_RETRIES).")
        parser.add_argument("--timeout", type=float, default=None,
                            help="Seconds the task may run (default QUEUE_DEFAULT_TIMEOUT).")
        parser.add_argument("--webhook", default="", help="URL that receives the task's JSON when it completes.")
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--at", help="Run at this ISO 8601 time with a zone, e.g. 2030-01-01T09:00:00Z.")
        when.add_argument("--delay", type=float, help="Run after this many seconds.")
        parser.add_argument("--count", type=int, default=1, help="Enqueue this many identical tasks in one statement.")

    def handle(self, *args, type, payload, queue, priority, max_retries, timeout, webhook, at, delay, count, **opts):
        if count < 1:
            raise CommandError("--count must be at least 1.")
        try:
            run_at = parse_time(at) if at else None
        except ValueError as exc:
            raise CommandError(f"--at: {exc}") from None
        if delay is not None:
            run_at = timezone.now() + timedelta(seconds=delay)
        try:
            options = {"queue": queue, "priority": priority, "run_at": run_at, "max_retries": max_retries,
                       "timeout": timeout, "webhook": webhook}
            value = parse_payload(payload)
            tasks = task_queue.enqueue_many([task_queue.build(type, value, **options) for _ in range(count)])
        except ValidationError as exc:
            reasons = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            raise CommandError(f"Nothing was enqueued. {reasons}") from None
        for task in tasks:
            self.stdout.write(f"{task.id} {task.status}")
