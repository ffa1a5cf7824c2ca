"""Scenarios in which processes die: SIGKILLed workers (1), SIGTERM under load
(3), and poison tasks that kill their own process or exhaust its memory (4)."""

import random
import signal
import time

from faultkit.lab import Lab, Result, active, completed, drain, query, scalar, seconds, wait_until


def sigkill_workers(lab: Lab) -> Result:
    """1. SIGKILL a random worker every few seconds while the queue drains."""
    tasks = 1500 if lab.short else 10000
    url, fleet = lab.scenario("s1_sigkill")
    for _ in range(4):
        fleet.worker("--concurrency", "2")
    fleet.producer("--count", str(tasks), "--batch", "100", "--rollback-every", "5",
                   "--payload", '{"sleep": 0.01}')
    rng = random.Random(7)
    kills: list[tuple[float, int]] = []  # (wall-clock time, pid)
    started = time.monotonic()
    wait_until(lambda: completed(url) > 0, 60)
    while active(url) > tasks * 0.05 and time.monotonic() - started < 600:
        time.sleep(rng.uniform(1.5, 3.0))
        victim = rng.choice(fleet.live_workers())
        victim.signal(signal.SIGKILL)
        kills.append((time.time(), victim.pid))
        victim.wait(10)
        fleet.worker("--concurrency", "2")  # capacity comes back, as an orchestrator would restart it
    drained = drain(url, fleet, 300)
    recovery = _rescue_delays(url, kills)
    fleet.stop_all()
    result = lab.audit(url, fleet)
    return Result(
        1, "SIGKILL a random worker every 1.5-3 s during the drain", result,
        faults=f"{len(kills)} SIGKILLs", recovery=seconds(recovery),
        figures={"workers": "4 × concurrency 2 (each killed one replaced)",
                 "drain after the last kill": f"{drained:.1f} s",
                 "recovery": "from the SIGKILL to the rescue of the killed worker's last task "
                             "(threshold QUEUE_WORKER_TIMEOUT = 3 s)"},
    )


def _rescue_delays(url: str, kills: list[tuple[float, int]]) -> list[float]:
    delays = []
    for killed_at, pid in kills:
        rows = query(url, """
            SELECT max((e->>'at')::timestamptz) FROM tasks_task t, jsonb_array_elements(t.errors) e
            WHERE e->>'type' = 'tasks.exceptions.WorkerLost'
              AND e->>'worker' IN (SELECT id::text FROM tasks_worker WHERE pid = %s)""", [pid])
        if rows and rows[0][0] is not None:
            delays.append(rows[0][0].timestamp() - killed_at)
    return delays


def sigterm_under_load(lab: Lab) -> Result:
    """3. SIGTERM every worker under load: running tasks finish within the grace
    period, claimed-but-unstarted ones go back to pending, nothing is lost."""
    grace = 3
    tasks = 500 if lab.short else 3000
    url, fleet = lab.scenario("s3_sigterm", {"QUEUE_SHUTDOWN_GRACE": str(grace), "LOG_LEVEL": "INFO"})
    fleet.producer("--count", str(tasks), "--batch", "500", "--payload", '{"sleep": 0.1}').wait(60)
    first = [fleet.worker("--concurrency", "2") for _ in range(3)]
    wait_until(lambda: completed(url) >= 50, 60)
    # Tasks longer than the grace period, at the front of the queue just before
    # the SIGTERM: they are interrupted at the end of the grace and run again.
    long_ids = 3
    fleet.producer("--count", str(long_ids), "--payload", f'{{"sleep": {grace + 2}}}', "--priority", "10",
                   name="producer_long").wait(60)
    wait_until(lambda: scalar(url, "SELECT count(*) FROM tasks_task WHERE priority = 10 "
                                   "AND status = 'processing'") == long_ids, 30)
    time.sleep(0.5)
    in_flight = scalar(url, "SELECT count(*) FROM tasks_task WHERE status = 'processing'")
    signalled = time.monotonic()
    for worker in first:
        worker.signal(signal.SIGTERM)
    codes = [worker.wait(grace + 20) for worker in first]
    exit_times = [(worker.exited_at or time.monotonic()) - signalled for worker in first]
    problems = []
    if codes != [0] * len(first):
        problems.append(f"worker exit codes after SIGTERM: {codes}")
    if max(exit_times) > grace + 5:
        problems.append(f"a worker took {max(exit_times):.1f} s to exit (grace {grace} s)")
    left_processing = scalar(url, "SELECT count(*) FROM tasks_task WHERE status = 'processing'")
    if left_processing:
        problems.append(f"{left_processing} task(s) left in processing after the workers exited")
    interrupted = scalar(url, """SELECT count(*) FROM tasks_task WHERE status = 'pending'
        AND errors @> '[{"type": "tasks.exceptions.WorkerShutdown"}]'""")
    untouched = scalar(url, "SELECT count(*) FROM tasks_task WHERE status = 'pending' AND attempt = 0")
    # Every long task was cut short (on a loaded machine a heartbeat may also
    # lapse past the 3 s threshold, and a rescue takes it first); no short one was.
    cut_short = scalar(url, """SELECT count(*) FROM tasks_task WHERE priority = 10 AND errors <> '[]'""")
    short_cut = scalar(url, """SELECT count(*) FROM tasks_task WHERE priority = 0
        AND errors @> '[{"type": "tasks.exceptions.WorkerShutdown"}]'""")
    if cut_short != long_ids or short_cut:
        problems.append(f"{cut_short} of the {long_ids} long tasks and {short_cut} short one(s) were cut short")
    for _ in range(3):
        fleet.worker("--concurrency", "2")
    drain(url, fleet, 300)
    fleet.stop_all()
    return Result(
        3, "SIGTERM all workers under load (grace 3 s), then start new ones", lab.audit(url, fleet),
        faults=f"SIGTERM to 3 workers holding {in_flight} task(s)",
        recovery=f"workers exited in {seconds(exit_times)}",
        figures={"tasks": f"{tasks} of 0.1 s + {long_ids} of {grace + 2} s (longer than the grace)",
                 "claimed at SIGTERM": str(in_flight),
                 "interrupted at the end of the grace (back to pending, no retry used)": str(interrupted),
                 "never started, still pending": str(untouched),
                 "worker exit codes": ", ".join(map(str, codes))},
        problems=problems,
    )


def poison(lab: Lab) -> Result:
    """4. Tasks that kill their own process (os._exit) or exhaust its memory:
    each is isolated, retried per its policy, then failed; the rest are unaffected."""
    tasks = 400 if lab.short else 2000
    url, fleet = lab.scenario("s4_poison", {"QUEUE_CHILD_MEMORY_LIMIT_MB": "512"})
    fleet.producer("--count", str(tasks), "--batch", "100", "--payload", '{"sleep": 0.01}')
    crash = fleet.producer("--count", "5", "--type", "crash", "--payload", "9", "--max-retries", "2",
                           name="producer_crash")
    hog = fleet.producer("--count", "3", "--type", "hog", "--max-retries", "1", name="producer_hog")
    crash.wait(60)
    hog.wait(60)
    started = time.monotonic()
    for _ in range(2):
        fleet.worker("--concurrency", "2")
    drain(url, fleet, 300)
    elapsed = time.monotonic() - started
    fleet.stop_all()
    result = lab.audit(url, fleet, expected={"crash": "failed", "hog": "failed"})
    problems = []
    poison_rows = query(url, """SELECT type, attempt, max_retries, errors FROM tasks_task
                                WHERE type IN ('crash', 'hog')""")
    for task_type, attempt, max_retries, errors in poison_rows:
        if attempt != max_retries + 1 or len(errors) != attempt:
            problems.append(f"a {task_type} task ran {attempt} time(s) with {len(errors)} error(s), "
                            f"expected {max_retries + 1}")
    error_types = sorted({e["type"].rsplit(".", 1)[-1] for *_, errors in poison_rows for e in errors})
    scarred = scalar(url, "SELECT count(*) FROM tasks_task WHERE type = 'record' AND errors <> '[]'")
    if scarred:
        problems.append(f"{scarred} ordinary task(s) have errors: they were affected by the poison")
    replaced = sum(w.output().count("replacing it") for w in fleet.workers)
    return Result(
        4, "Poison tasks: os._exit and memory exhaustion", result,
        faults="5 tasks × 3 attempts that os._exit(9); 3 tasks × 2 attempts that allocate past the 512 MB limit",
        recovery=f"slot processes replaced: {replaced}; whole drain {elapsed:.1f} s",
        figures={"ordinary tasks": f"{tasks}, none with an error",
                 "errors recorded on the poison tasks": ", ".join(error_types),
                 "poison tasks failed (dead letters) after max_retries + 1 attempts": str(len(poison_rows))},
        problems=problems,
    )
