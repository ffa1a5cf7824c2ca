"""manage.py queue_stats: counts per queue and status, workers, throughput."""

import json

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from tasks.models import TaskStatus
from tasks.telemetry import summary as statistics

COLUMNS = [str(s) for s in TaskStatus.values]


class Command(BaseCommand):
    help = (
        "Print queue statistics: tasks per queue and status, live workers, completed and failed "
        "in the last minute and hour, and the age of the oldest pending task. The numbers come from "
        "trigger-maintained counters, so this is cheap on any table size. --json prints what "
        "/api/stats returns."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the statistics as one JSON document.")

    def handle(self, *args, json: bool = False, **options):
        summary = statistics.stats(timezone.now())
        if json:
            self.stdout.write(_dumps(summary))
            return
        width = max([5, *(len(q) for q in summary["queues"])])
        self.stdout.write(f"{'queue':<{width}}  " + "  ".join(f"{c:>10}" for c in COLUMNS))
        for name, counts in summary["queues"].items():
            self.stdout.write(f"{name:<{width}}  " + "  ".join(f"{counts[c]:>10}" for c in COLUMNS))
        self.stdout.write(f"{'total':<{width}}  " + "  ".join(f"{summary[c + '_count']:>10}" for c in COLUMNS))
        hour, minute = summary["throughput"]["last_hour"], summary["throughput"]["last_minute"]
        age = summary["oldest_pending_age_seconds"]
        self.stdout.write(f"workers alive: {summary['worker_count']}")
        self.stdout.write(f"last minute: {minute['completed']} completed, {minute['failed']} failed; "
                          f"last hour: {hour['completed']} completed, {hour['failed']} failed")
        self.stdout.write(f"oldest pending task: {'none' if age is None else f'{age:g} s old'}")


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2)
