"""The worker as operators run it: `manage.py worker` processes on real PostgreSQL."""

import collections
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import queue
from tasks.models import Queue, Task, TaskStatus, Worker, WorkerState
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow


def statuses():
    return collections.Counter(Task.objects.values_list("status", flat=True))


def test_burst_worker_runs_everything_by_priority_then_exits_zero(start_worker):
    low = queue.enqueue("echo", "low", priority=1)
    high = queue.enqueue("echo", "high", priority=5)
    mid = queue.enqueue("echo", "mid", priority=3)
    worker = start_worker("--concurrency", "1", "--burst")
    assert worker.wait() == 0
    order = list(Task.objects.order_by("started_at").values_list("id", flat=True))
    assert order == [high.id, mid.id, low.id]
    assert Task.objects.get(pk=high.pk).result == "high"
    log = worker.output
    assert f"Worker 1 processing task {high.id} (type: echo, queue: default, priority: 5, attempt: 1/4)" in log
    assert f"Worker 1 completed task {high.id}" in log
    assert Worker.objects.get().state == WorkerState.STOPPED


def test_an_idle_worker_is_woken_by_notify_not_by_polling(start_worker):
    # Polling every 60 s: a task started well before that was announced by NOTIFY.
    # (Pickup latency in milliseconds is measured by the benchmark, not asserted here.)
    worker = start_worker("--concurrency", "1", env={"QUEUE_POLL_INTERVAL": "60"})
    wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).exists(), message="worker start")
    time.sleep(1)  # past the first claim, which every worker makes at start
    for i in range(3):
        task = queue.enqueue("echo", i)
        wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=20)
        task.refresh_from_db()
        assert (task.started_at - task.created_at).total_seconds() < 20
    assert worker.proc.poll() is None


def test_scheduled_task_waits_then_runs_within_a_second_of_its_time(start_worker):
    run_at = timezone.now() + timedelta(seconds=2)
    task = queue.enqueue("echo", "later", run_at=run_at)
    start_worker("--concurrency", "1")
    time.sleep(1)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.SCHEDULED
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=10)
    task.refresh_from_db()
    # Within a second of its time on a quiet machine (promotion every 0.2 s here, then
    # NOTIFY); the margin absorbs a CI machine shared with other jobs.
    assert run_at <= task.started_at <= run_at + timedelta(seconds=2)


def test_failures_retry_with_backoff_then_land_in_the_dead_letters(start_worker):
    doomed = queue.enqueue("fail", "always broken", max_retries=2)
    flaky = queue.enqueue("flaky", 3, max_retries=3)
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.filter(status__in=["failed", "completed"]).count() == 2, timeout=30)
    doomed.refresh_from_db()
    flaky.refresh_from_db()
    assert doomed.status == TaskStatus.FAILED
    assert doomed.retry_count == 2 and doomed.attempt == 3
    assert [e["message"] for e in doomed.errors] == ["always broken"] * 3
    assert all("RuntimeError: always broken" in e["traceback"] for e in doomed.errors)
    assert doomed.last_error == "RuntimeError: always broken"
    assert flaky.status == TaskStatus.COMPLETED and flaky.result == {"attempt": 3}
    assert len(flaky.errors) == 2
    # Backoff: each retry waited (base 0.2 s, equal jitter) before running again.
    assert "retrying task" in worker.output and "dead letter" in worker.output


def test_manual_retry_of_a_dead_letter_runs_it_again(start_worker):
    task = queue.enqueue("flaky", 2, max_retries=0)
    start_worker("--concurrency", "1")
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.FAILED)
    assert queue.retry(task)
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED)
    assert Task.objects.get(pk=task.pk).attempt == 2


def test_cancelled_task_never_runs(start_worker, record_log):
    task = queue.enqueue("record", None, run_at=timezone.now() + timedelta(seconds=1))
    assert queue.cancel(task)
    start_worker("--concurrency", "1", "--burst").wait()
    time.sleep(1.5)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    assert record_log() == []


def test_timeout_interrupts_the_task_and_follows_the_retry_policy(start_worker):
    soft = queue.enqueue("sleep", 30, timeout=0.5, max_retries=1)
    hard = queue.enqueue("hang", 30, timeout=0.5, max_retries=0)
    after = queue.enqueue("echo", "still served")
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.filter(status__in=["failed", "completed"]).count() == 3, timeout=30)
    soft.refresh_from_db()
    hard.refresh_from_db()
    assert soft.status == TaskStatus.FAILED and len(soft.errors) == 2
    assert soft.errors[0]["type"] == "tasks.exceptions.TaskTimeout"
    assert "timeout of 0.5 seconds" in soft.errors[0]["message"]
    assert hard.status == TaskStatus.FAILED
    assert "its process was replaced" in hard.last_error
    assert Task.objects.get(pk=after.pk).status == TaskStatus.COMPLETED
    assert "replacing its process" in worker.output


def test_a_task_that_kills_its_process_fails_alone(start_worker):
    crash = queue.enqueue("crash", 7, max_retries=1)
    others = [queue.enqueue("echo", i) for i in range(20)]
    start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.get(pk=crash.pk).status == TaskStatus.FAILED, timeout=30)
    crash.refresh_from_db()
    assert [e["type"] for e in crash.errors] == ["tasks.exceptions.SlotCrashed"] * 2
    assert "exit code 7" in crash.last_error
    wait_for(lambda: Task.objects.filter(pk__in=[t.pk for t in others], status="completed").count() == 20)
    assert all(not Task.objects.get(pk=t.pk).errors for t in others)


def test_sigterm_finishes_running_tasks_and_hands_back_the_rest(start_worker, record_log):
    tasks = [queue.enqueue("record", {"sleep": 1.5}) for _ in range(6)]
    worker = start_worker("--concurrency", "2")
    wait_for(lambda: len(record_log()) == 2, message="two tasks started")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    started = {line[0] for line in record_log()}
    assert len(started) == 2
    for task in tasks:
        task.refresh_from_db()
        if str(task.id) in started:
            assert task.status == TaskStatus.COMPLETED
        else:
            assert (task.status, task.attempt) == (TaskStatus.PENDING, 0)
    assert "stopping" in worker.output and "stopped after 2 task(s)" in worker.output


def test_a_worker_killed_mid_task_is_rescued_and_its_task_completes(start_worker, record_log):
    task = queue.enqueue("record", {"sleep": 30}, max_retries=2)
    doomed = start_worker("--concurrency", "1", "--no-housekeeping")
    wait_for(lambda: record_log(), message="task started")
    doomed.signal(signal.SIGKILL)
    doomed.wait()
    Task.objects.filter(pk=task.pk).update(payload={"sleep": 0})
    start_worker("--concurrency", "1")
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=30)
    task.refresh_from_db()
    assert task.attempt == 2 and task.retry_count == 1
    assert task.errors[0]["type"] == "tasks.exceptions.WorkerLost"
    assert [line[1] for line in record_log()] == ["1", "2"]


def test_four_worker_processes_run_two_thousand_tasks_exactly_once(start_worker, record_log):
    workers = [start_worker("--concurrency", "2", env={"LOG_LEVEL": "WARNING"}) for _ in range(4)]
    wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).count() == 4, message="4 workers")
    queue.enqueue_many([queue.build("record", {"sleep": 0.005}) for _ in range(2000)])
    wait_for(lambda: Task.objects.filter(status="completed").count() == 2000, timeout=180)
    runs = collections.Counter(line[0] for line in record_log())
    assert len(runs) == 2000
    assert set(runs.values()) == {1}
    # The work really was contended for: several workers claimed from the same rows.
    assert Task.objects.values("worker_id").distinct().count() >= 3
    for worker in workers:
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0


def test_pause_and_resume_through_the_worker_row(start_worker):
    worker = start_worker("--concurrency", "1")
    row = wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).first())
    assert row.pause()
    wait_for(lambda: f"Worker {row.pk} paused" in worker.output, timeout=10, message="pause acknowledged")
    task = queue.enqueue("echo", 1)
    time.sleep(1.5)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING
    assert row.resume()
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=5)
    assert not row.resume()  # already running


def test_a_paused_queue_waits_while_others_run(start_worker):
    Queue.pause("reports")
    report = queue.enqueue("echo", "report", queue="reports")
    mail = queue.enqueue("echo", "mail", queue="emails")
    start_worker("--concurrency", "1")
    wait_for(lambda: Task.objects.get(pk=mail.pk).status == TaskStatus.COMPLETED)
    time.sleep(1)
    assert Task.objects.get(pk=report.pk).status == TaskStatus.PENDING
    Queue.resume("reports")
    wait_for(lambda: Task.objects.get(pk=report.pk).status == TaskStatus.COMPLETED, timeout=5)


def test_a_worker_started_while_the_database_is_away_waits_for_it(start_worker):
    from tests.support.database import TcpProxy, proxied_database_url, upstream_address

    proxy = TcpProxy(upstream_address())  # nothing listens until start()
    worker = start_worker("--concurrency", "1", env={"DATABASE_URL": proxied_database_url(proxy)})
    time.sleep(3)
    assert worker.proc.poll() is None, worker.output  # still waiting, not crashed
    assert not Worker.objects.exists()
    proxy.start()
    try:
        wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).exists(), timeout=20)
        task = queue.enqueue("echo", "after the outage")
        wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=20)
        assert "database unavailable" in worker.output and "Traceback" not in worker.output
    finally:
        worker.stop()
        proxy.cut()


def test_tasks_claimed_by_a_statement_whose_answer_was_lost_still_run(start_worker):
    # A claim commits on the server, then the connection breaks before its rows
    # reach the worker: they are `processing` under a worker that heartbeats on,
    # so no rescue takes them. The worker must find them itself once it reconnects.
    from tests.support.database import TcpProxy, proxied_database_url, upstream_address

    proxy = TcpProxy(upstream_address())
    proxy.start()
    worker = start_worker("--concurrency", "2", "--queues", "default",
                          env={"DATABASE_URL": proxied_database_url(proxy), "QUEUE_WORKER_TIMEOUT": "60"})
    try:
        row = wait_for(lambda: Worker.objects.filter(state=WorkerState.RUNNING).first(), timeout=20)
        # What the lost claim left behind (in a queue the worker does not claim from).
        lost = [queue.enqueue("echo", n, queue="elsewhere") for n in range(3)]
        Task.objects.filter(pk__in=[t.pk for t in lost]).update(
            status=TaskStatus.PROCESSING, worker_id=row.id, attempt=1, started_at=timezone.now())
        proxy.cut()  # the worker's connections break, its next claim fails: in doubt
        time.sleep(1)
        proxy.start()
        for task in lost:
            wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=30,
                     message=f"task {task.pk} to complete")
        for task in Task.objects.filter(pk__in=[t.pk for t in lost]):
            # Run under the lost claim itself (attempt 1, no error), not rescued and retried.
            assert (task.attempt, task.errors, task.worker_id) == (1, [], row.id)
        assert "recovered 3 task(s)" in worker.output
        after = queue.enqueue("echo", "after")
        wait_for(lambda: Task.objects.get(pk=after.pk).status == TaskStatus.COMPLETED, timeout=20)
    finally:
        worker.stop()
        proxy.cut()
