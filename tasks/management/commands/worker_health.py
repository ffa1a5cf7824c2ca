"""manage.py worker_health: exit 0 when a worker on this host is alive (container health checks)."""

import socket

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tasks.models import Worker


class Command(BaseCommand):
    help = (
        "Exit 0 if a worker process on this host (by hostname) has heartbeated within "
        "QUEUE_WORKER_TIMEOUT seconds and has not stopped, 1 otherwise. For container health checks: "
        "a worker whose supervisor hangs or lost the database stops heartbeating and turns unhealthy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hostname", default=None, help="Check this host name instead of this machine's.")

    def handle(self, *args, hostname, **options):
        hostname = hostname or socket.gethostname()
        alive = Worker.objects.alive(timezone.now()).filter(hostname=hostname).count()
        if not alive:
            raise CommandError(f"No live worker on {hostname}.")
        self.stdout.write(f"{alive} live worker(s) on {hostname}.")
