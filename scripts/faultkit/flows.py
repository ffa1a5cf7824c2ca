"""Scenario 9: SIGKILL workers while a DAG and a batch run (docs/workflows.md)."""

import json
import random
import signal
import sys
import time

from faultkit.fleet import ROOT
from faultkit.lab import Lab, Result, query, scalar, seconds, wait_until

UNFINISHED = "('waiting', 'scheduled', 'pending', 'processing')"


def sigkill_during_workflows(lab: Lab) -> Result:
    """9. SIGKILL a random worker every few seconds while a DAG and a batch run."""
    nodes, batch = (200, 2000) if lab.short else (1000, 10000)
    url, fleet = lab.scenario("s7_workflows")
    out = fleet.folder / "produced-flows.log"
    fleet.start("producer", [sys.executable, str(ROOT / "scripts" / "faultkit" / "flow_producer.py"),
                             "--out", str(out), "--nodes", str(nodes), "--batch", str(batch)]).wait(300)
    ids = json.loads(out.with_name(out.name + ".ids").read_text())
    for _ in range(4):
        fleet.worker("--concurrency", "2")
    rng = random.Random(7)
    kills = 0
    started = time.monotonic()
    unfinished = f"SELECT count(*) FROM tasks_task WHERE status IN {UNFINISHED}"
    while scalar(url, unfinished) > (nodes + batch) * 0.1 and time.monotonic() - started < 600:
        time.sleep(rng.uniform(1.5, 3.0))
        victim = rng.choice(fleet.live_workers())
        victim.signal(signal.SIGKILL)
        kills += 1
        victim.wait(10)
        fleet.worker("--concurrency", "2")
    last_kill = time.monotonic()
    settled = wait_until(lambda: scalar(url, unfinished) == 0, 300, interval=0.5)
    drained = time.monotonic() - last_kill
    fleet.stop_all()
    problems = [] if settled else [f"{scalar(url, unfinished)} task(s) still unfinished after 300 s"]
    early = fleet.effects.with_name(fleet.effects.name + ".early")
    if early.exists():
        problems.append(f"{len(early.read_text().splitlines())} node run(s) started before their dependencies "
                        "completed")
    row = query(url, "SELECT total, completed, failed, cancelled, finished_at IS NOT NULL FROM tasks_batch "
                     "WHERE id = %s", [ids["batch"]])[0]
    if row != (batch, batch, 0, 0, True):
        problems.append(f"the batch's counts are {row}, not ({batch}, {batch}, 0, 0, finished)")
    if scalar(url, "SELECT status FROM tasks_task WHERE id = %s", [ids["on_failure"]]) != "cancelled":
        problems.append("on_failure was not cancelled")
    finished_events = scalar(url, "SELECT count(*) FROM tasks_event WHERE event = 'batch.finished'")
    if finished_events != 1:
        problems.append(f"{finished_events} batch.finished events, not 1")
    result = lab.audit(url, fleet, {"flowstep": "completed"})
    return Result(
        9, "SIGKILL a random worker every 1.5-3 s while a DAG and a batch run", result,
        faults=f"{kills} SIGKILLs", recovery=seconds([drained]), problems=problems,
        figures={"workload": f"a {nodes}-node DAG (layers of 20, 3 dependencies each) and a {batch}-task batch "
                             "with on_success, on_failure and on_complete",
                 "workers": "4 × concurrency 2 (each killed one replaced)",
                 "checks": "every node, batch task and callback that applies completed; no node started before "
                           "its dependencies completed; batch counts exact; on_failure cancelled; one "
                           "batch.finished event"},
    )
