"""manage.py worker: run tasks from the queue until stopped."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from queueproject.database import describe
from tasks import conf
from tasks.management.arguments import parse_queues
from tasks.worker.supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run a worker: claim tasks from the given queues and run them in N slot processes. "
        "SIGTERM or Ctrl-C stops it gracefully: running tasks finish within QUEUE_SHUTDOWN_GRACE "
        "seconds, claimed but unstarted tasks go back to pending, and it exits 0."
    )

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", "-c", type=int, default=None,
                            help="Execution slots (processes); default QUEUE_CONCURRENCY (%s)." % conf.get("CONCURRENCY"))
        parser.add_argument("--queues", "-q", default=None,
                            help="Comma-separated queues to serve, or * for all; default QUEUE_WORKER_QUEUES. "
                                 "With weights (critical:6,default:3,low:1) each claim takes them in a weighted "
                                 "random order, so none starves.")
        parser.add_argument("--strict-priority", action="store_true",
                            help="Take the queues strictly in the order given: a later one only when the "
                                 "earlier ones have nothing runnable.")
        parser.add_argument("--burst", action="store_true",
                            help="Exit 0 as soon as no task is runnable.")
        parser.add_argument("--max-tasks", type=int, default=None,
                            help="Exit after running this many tasks.")
        parser.add_argument("--no-housekeeping", action="store_true",
                            help="Do not run housekeeping chores or deliver webhooks in this process.")

    def handle(self, *args, concurrency, queues, burst, max_tasks, no_housekeeping, strict_priority=False,
               **options):
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if max_tasks is not None and max_tasks < 1:
            raise CommandError("--max-tasks must be at least 1.")
        queue_list, weights = None, None
        if queues is not None:
            try:
                queue_list, weights = parse_queues(queues)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if weights and strict_priority:
            raise CommandError("--strict-priority takes the queues in order; give them without weights.")
        if strict_priority and (not queue_list or "*" in queue_list):
            raise CommandError("--strict-priority needs the queues named in order with --queues.")
        self.stderr.write(f"Database: {describe(settings.DATABASE_URL)}")
        supervisor = Supervisor(queues=queue_list, concurrency=concurrency, burst=burst,
                                max_tasks=max_tasks, housekeeping=not no_housekeeping,
                                weights=weights, strict_priority=strict_priority)
        raise SystemExit(supervisor.run())
