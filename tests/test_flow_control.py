"""Flow control under real worker processes: global and per-partition concurrency,
ordered keys and rate limits hold across several workers, kills included. Each
task notes its own start and end (the `probe` type), and the test replays them."""

import collections
import signal
from pathlib import Path

import pytest

from tasks import queue
from tasks.models import Queue, Task, TaskStatus, Worker
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow


def probes(queue_env):
    """{(task id, attempt): [start, end or None]} from the probe log."""
    runs = collections.defaultdict(lambda: [None, None])
    path = Path(queue_env["TASKQUEUE_TEST_LOG"])
    for line in path.read_text().splitlines() if path.exists() else []:
        what, task_id, attempt, at = line.split()[:4]
        runs[(task_id, int(attempt))][0 if what == "start" else 1] = float(at)
    return runs


def running_worker(queue_env):
    """The id of a worker running a probe now (started, not ended), after a few probes ran."""
    path = Path(queue_env["TASKQUEUE_TEST_LOG"])
    lines = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
    if len(lines) < 12:
        return None
    ended = {fields[1] for fields in lines if fields[0] == "end"}
    open_ = [fields[5] for fields in lines if fields[0] == "start" and fields[1] not in ended]
    return open_[-1] if open_ else None


def intervals(runs):
    """(task id, start, end) per attempt. An attempt killed with its worker has no
    end: it counts as running until the rescue recorded it as failed (the "at" of
    that attempt's error), as long as the claim counted it, which only widens it."""
    from django.utils.dateparse import parse_datetime

    result = []
    for (task_id, attempt), (start, end) in runs.items():
        if end is None:
            errors = Task.objects.get(pk=task_id).errors
            ats = [parse_datetime(e["at"]).timestamp() for e in errors if e.get("attempt") == attempt]
            end = min(ats) if ats else float("inf")
        result.append((task_id, start, end))
    return result


def most_at_once(spans):
    """The largest number of spans (start, end) open at one instant."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def all_done(count):
    return lambda: Task.objects.filter(status=TaskStatus.COMPLETED).count() == count


def test_max_running_holds_across_four_workers_and_a_kill(start_worker, queue_env):
    Queue.objects.create(name="payments", max_running=3)
    tasks = [queue.enqueue("probe", {"sleep": 0.3}, queue="payments") for _ in range(30)]
    workers = [start_worker("--concurrency", "3", "--queues", "payments") for _ in range(4)]
    busy = wait_for(lambda: running_worker(queue_env), message="tasks under way")
    victim = next(w for w in workers if w.proc.pid == Worker.objects.get(pk=busy).pid)
    victim.proc.kill()  # SIGKILL, mid-task: its running tasks stay `processing` until rescued
    wait_for(all_done(len(tasks)), timeout=60, message="every task completed")
    assert any(task.errors for task in Task.objects.all())  # the kill cut some attempts short
    spans = [(s, e) for _, s, e in intervals(probes(queue_env))]
    assert most_at_once(spans) == 3  # the limit, reached and never passed


def test_partition_limit_holds_per_customer_from_a_payload_path(start_worker, queue_env):
    Queue.objects.create(name="sync", partition_by="customer.id", partition_max_running=1, max_running=4)
    customers = ["a", "b", "c", "d", "e"]
    for i in range(25):
        queue.enqueue("probe", {"sleep": 0.1, "customer": {"id": customers[i % 5]}}, queue="sync")
    keyed = [queue.enqueue("probe", {"sleep": 0.1}, queue="sync", partition_key="a") for _ in range(3)]
    for _ in range(2):
        start_worker("--concurrency", "4", "--queues", "sync")
    wait_for(all_done(28), timeout=60, message="every task completed")
    customer_of = {str(t.id): (t.partition_key or t.payload["customer"]["id"]) for t in Task.objects.all()}
    assert {customer_of[str(t.id)] for t in keyed} == {"a"}
    spans = intervals(probes(queue_env))
    by_customer = collections.defaultdict(list)
    for task_id, start, end in spans:
        by_customer[customer_of[task_id]].append((start, end))
    assert {c: most_at_once(s) for c, s in by_customer.items()} == dict.fromkeys(customers, 1)
    assert 1 < most_at_once([(s, e) for _, s, e in spans]) <= 4


def test_ordered_keys_run_one_at_a_time_in_enqueue_order_and_a_failure_holds_its_key(start_worker, queue_env):
    Queue.objects.create(name="ledger", ordered=True)
    order = collections.defaultdict(list)
    for i in range(18):
        key = f"account-{i % 3}"
        payload = {"sleep": 0.05, "fail_first": i == 4}  # account-1's second task fails once
        order[key].append(str(queue.enqueue("probe", payload, queue="ledger", ordering_key=key).id))
    loose = queue.enqueue("probe", {"sleep": 0.05}, queue="ledger")  # no key: runs whenever
    for _ in range(3):
        start_worker("--concurrency", "3", "--queues", "ledger")
    wait_for(all_done(19), timeout=60, message="every task completed")
    runs = probes(queue_env)
    for key, ids in order.items():
        attempts = sorted(((start, end, task_id) for (task_id, _), (start, end) in runs.items() if task_id in ids))
        assert [task_id for _, _, task_id in attempts if task_id != ids[1] or key != "account-1"] == \
            [i for i in ids if i != ids[1] or key != "account-1"]
        assert most_at_once([(s, e) for s, e, _ in attempts]) == 1
    # The failed attempt held account-1: its retry ran before the next task of the key.
    flaky = order["account-1"][1]
    started = {task_id: start for (task_id, attempt), (start, _) in runs.items() if attempt == 1}
    retry_start = runs[(flaky, 2)][0]
    assert retry_start < started[order["account-1"][2]]
    assert (str(loose.id), 1) in runs


def test_ordered_key_is_refused_for_a_queue_that_does_not_keep_order(transactional_db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        queue.enqueue("echo", 1, queue="default", ordering_key="k")
    assert "ordering_key" in error.value.message_dict


def test_rate_limit_never_passes_n_in_any_period_across_workers(start_worker, queue_env):
    # 10 per second over about 3.5 s of starts; the minute-long run is in `make bench`.
    Queue.objects.create(name="email", rate_limit=10, rate_period=1)
    for _ in range(35):
        queue.enqueue("probe", {"sleep": 0.01}, queue="email")
    for _ in range(3):
        start_worker("--concurrency", "4", "--queues", "email")
    wait_for(all_done(35), timeout=60, message="every task completed")
    # The limit is exact for claims (the queue's log holds their times); a handler
    # starts a few milliseconds after its claim, hence windows of 0.9 s here.
    starts = sorted(start for start, _ in probes(queue_env).values())
    window = [sum(1 for t in starts if s <= t < s + 0.9) for s in starts]
    assert max(window) == 10
    # 35 starts at 10 per second need three full periods after the first start.
    assert starts[-1] - starts[0] >= 2.9


def test_a_limit_set_on_a_running_worker_applies_within_a_second(start_worker, queue_env):
    worker = start_worker("--concurrency", "4", "--queues", "later")
    wait_for(lambda: Worker.objects.exists(), message="worker registered")
    Queue.objects.create(name="later", max_running=1)
    import time

    time.sleep(1.2)
    for _ in range(6):
        queue.enqueue("probe", {"sleep": 0.1}, queue="later")
    wait_for(all_done(6), timeout=30, message="every task completed")
    assert most_at_once([(s, e) for _, s, e in intervals(probes(queue_env))]) == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_weighted_queues_serve_the_low_queue_before_the_high_one_is_drained(start_worker, queue_env):
    for name in ("critical", "default", "low"):
        for _ in range(60):
            queue.enqueue("probe", {"tag": name}, queue=name)
    # One task per claim, so the first 90 tasks are 90 weighted draws (expected 54 / 27 / 9).
    worker = start_worker("--concurrency", "1", "--queues", "critical:6,default:3,low:1", "--burst",
                          env={"QUEUE_CLAIM_BATCH": "1", "QUEUE_PREFETCH": "0"})
    assert worker.wait(timeout=90) == 0
    order = list(Task.objects.order_by("started_at").values_list("queue", flat=True))
    first_half = collections.Counter(order[:90])
    assert first_half["low"] > 0 and first_half["default"] > 0  # no starvation
    assert first_half["critical"] > first_half["default"] > first_half["low"]


def test_strict_priority_takes_a_queue_only_when_the_ones_before_are_empty(start_worker, queue_env):
    for name in ("low", "default", "critical"):
        for _ in range(10):
            queue.enqueue("probe", {"tag": name}, queue=name)
    worker = start_worker("--concurrency", "1", "--queues", "critical,default,low", "--strict-priority", "--burst")
    assert worker.wait(timeout=60) == 0
    order = list(Task.objects.order_by("started_at").values_list("queue", flat=True))
    assert order == ["critical"] * 10 + ["default"] * 10 + ["low"] * 10


def test_rate_limit_per_partition_holds_for_each_customer_apart(start_worker, queue_env):
    Queue.objects.create(name="notify", partition_by="customer", partition_rate_limit=3, rate_period=1)
    for i in range(24):
        queue.enqueue("probe", {"sleep": 0.01, "customer": "abc"[i % 3]}, queue="notify")
    for _ in range(2):
        start_worker("--concurrency", "4", "--queues", "notify")
    wait_for(all_done(24), timeout=60, message="every task completed")
    customer_of = {str(t.id): t.payload["customer"] for t in Task.objects.all()}
    starts = collections.defaultdict(list)
    for (task_id, _), (start, _) in probes(queue_env).items():
        starts[customer_of[task_id]].append(start)
    for customer, times in starts.items():
        times.sort()
        assert max(sum(1 for t in times if s <= t < s + 0.9) for s in times) == 3, customer
        assert times[-1] - times[0] >= 1.9  # 8 starts at 3 per second: three windows
    everyone = sorted(t for times in starts.values() for t in times)
    assert sum(1 for t in everyone if t < everyone[0] + 0.5) == 9  # the customers do not wait for each other
