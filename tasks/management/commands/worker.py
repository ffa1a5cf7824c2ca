"""manage.py worker: run tasks from the queue until stopped."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from queueproject.database import describe
from tasks import conf
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
                            help="Comma-separated queues to serve, or * for all; default QUEUE_WORKER_QUEUES.")
        parser.add_argument("--burst", action="store_true",
                            help="Exit 0 as soon as no task is runnable.")
        parser.add_argument("--max-tasks", type=int, default=None,
                            help="Exit after running this many tasks.")
        parser.add_argument("--no-housekeeping", action="store_true",
                            help="Do not run housekeeping chores or deliver webhooks in this process.")

    def handle(self, *args, concurrency, queues, burst, max_tasks, no_housekeeping, **options):
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if max_tasks is not None and max_tasks < 1:
            raise CommandError("--max-tasks must be at least 1.")
        queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
        if queues is not None and not queue_list:
            raise CommandError("--queues needs at least one queue name, or *.")
        self.stderr.write(f"Database: {describe(settings.DATABASE_URL)}")
        supervisor = Supervisor(queues=queue_list, concurrency=concurrency, burst=burst,
                                max_tasks=max_tasks, housekeeping=not no_housekeeping)
        raise SystemExit(supervisor.run())
