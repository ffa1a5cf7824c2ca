"""Operator commands, run as an operator would: call_command and `--help` in a subprocess."""

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tasks import queue
from tasks.models import Event, Task, TaskStatus
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_enqueue_parses_json_or_takes_the_text_and_prints_ids():
    out = run("enqueue", "email", "user@example.com", "--priority", "5", "--queue", "mail")
    task = Task.objects.get(pk=out.split()[0])
    assert (task.type, task.payload, task.priority, task.queue, task.status) == (
        "email", "user@example.com", 5, "mail", TaskStatus.PENDING)
    out = run("enqueue", "echo", '{"n": 1}', "--count", "3", "--delay", "60")
    assert len(out.splitlines()) == 3 and all(line.endswith(" scheduled") for line in out.splitlines())
    assert Task.objects.filter(payload={"n": 1}, status=TaskStatus.SCHEDULED).count() == 3


def test_enqueue_refuses_bad_input_naming_each_field_and_writes_nothing():
    with pytest.raises(CommandError) as error:
        run("enqueue", "nope", "--priority", "500")
    assert "type: Unknown task type 'nope'" in str(error.value) and "priority:" in str(error.value)
    with pytest.raises(CommandError, match="--at"):
        run("enqueue", "echo", "--at", "tomorrow")
    assert not Task.objects.exists()


def test_queue_stats_table_and_json():
    queue.enqueue("echo", 1, queue="mail")
    queue.cancel(queue.enqueue("echo", 2, queue="mail"))
    table = run("queue_stats")
    # waiting, scheduled, pending, processing, completed, failed, cancelled
    assert table.splitlines()[1].split() == ["mail", "0", "0", "1", "0", "0", "0", "1"]
    assert json.loads(run("queue_stats", "--json"))["queues"]["mail"]["pending"] == 1


def test_purge_queue_cancels_waiting_tasks_of_that_queue_only():
    keep = queue.enqueue("echo", 1, queue="other")
    for i in range(3):
        queue.enqueue("echo", i, queue="bulk")
    assert run("purge_queue", "bulk", "--dry-run") == "Would cancel 3 task(s) of queue 'bulk'.\n"
    assert Task.objects.filter(queue="bulk", status="pending").count() == 3
    assert run("purge_queue", "bulk") == "Cancelled 3 task(s) of queue 'bulk'.\n"
    assert Task.objects.filter(queue="bulk", status="cancelled").count() == 3
    assert Task.objects.get(pk=keep.pk).status == TaskStatus.PENDING


def test_retry_failed_by_filter():
    now = timezone.now()
    mail = Task.objects.create(type="email", queue="mail", status="failed", last_error="SMTPError: refused",
                               completed_at=now)
    other = Task.objects.create(type="email", queue="mail", status="failed", last_error="ValueError: bad",
                                completed_at=now - timedelta(days=2))
    cancelled = Task.objects.create(type="echo", status="cancelled", completed_at=now)
    assert run("retry_failed", "--queue", "mail", "--error", "REFUSED", "--dry-run") == "Would retry 1 task(s).\n"
    assert run("retry_failed", "--queue", "mail", "--error", "refused") == "Retried 1 task(s).\n"
    assert Task.objects.get(pk=mail.pk).status == TaskStatus.PENDING
    assert Task.objects.get(pk=other.pk).status == TaskStatus.FAILED
    since = (now - timedelta(days=1)).isoformat()
    assert run("retry_failed", "--failed-after", since, "--cancelled") == "Retried 1 task(s).\n"
    assert Task.objects.get(pk=cancelled.pk).status == TaskStatus.PENDING
    with pytest.raises(CommandError, match="ISO 8601"):
        run("retry_failed", "--failed-before", "last week")


def test_prune_dry_run_counts_then_prune_deletes(settings):
    old = timezone.now() - timedelta(days=8)
    Task.objects.create(type="echo", status="completed", completed_at=old)
    Task.objects.create(type="echo", status="completed", completed_at=timezone.now())
    Task.objects.create(type="echo", status="failed", completed_at=old)  # failed: kept 30 days
    out = run("prune", "--dry-run")
    assert "Would delete 1 completed and cancelled tasks." in out and "Would delete 0 failed tasks." in out
    assert Task.objects.count() == 3
    assert "Deleted 1 tasks." in run("prune")
    assert Task.objects.count() == 2
    assert Event.objects.exists()  # recent events stay


@pytest.mark.parametrize("command", ["enqueue", "queue_stats", "purge_queue", "retry_failed", "prune"])
def test_every_command_explains_itself(command):
    result = subprocess.run([sys.executable, "manage.py", command, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert len(result.stdout.split("\n\n")[1]) > 150  # a real description, not just the usage line


def test_worker_health_reports_a_live_worker_on_this_host():
    import socket

    from tests.factories import WorkerFactory

    with pytest.raises(CommandError, match="No live worker"):
        run("worker_health")
    WorkerFactory(hostname=socket.gethostname())
    assert run("worker_health").startswith("1 live worker(s)")
    WorkerFactory(hostname="elsewhere", last_heartbeat=timezone.now() - timedelta(minutes=5))
    with pytest.raises(CommandError):
        run("worker_health", "--hostname", "elsewhere")
