"""Scenarios in which the database misbehaves: it restarts and drops every
connection (2), a long transaction holds back vacuum (5), and connections are
budgeted, directly and through PgBouncer in transaction mode (6)."""

import collections
import re
import signal
import threading
import time

import psycopg
import requests

from faultkit.cluster import Bouncer
from faultkit.lab import OBSERVER, Lab, Result, active, completed, drain, query, scalar, wait_until
from tests.support.processes import free_port

# Every client connection to the scenario's database but the suite's own
# (autovacuum and parallel workers show up there too, and are not clients).
CONNECTIONS = f"""SELECT count(*) FROM pg_stat_activity
                  WHERE datname = %s AND backend_type = 'client backend'
                    AND application_name <> '{OBSERVER}' AND pid <> pg_backend_pid()"""


class HttpProducer(threading.Thread):
    """POSTs tasks to the API in a loop; 201s are committed enqueues, to be audited."""

    def __init__(self, base: str, token: str, out_path) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.out_path = base, token, out_path
        self.codes: collections.Counter = collections.Counter()
        self.created_at: list[float] = []  # wall-clock time of each 201
        self.bad_bodies: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Token {self.token}"}
        with open(self.out_path, "a", buffering=1) as out, requests.Session() as session:
            while not self.stopped.is_set():
                try:
                    response = session.post(f"{self.base}/api/tasks", headers=headers, timeout=10,
                                            json={"type": "record", "payload": {"sleep": 0.01}})
                except requests.RequestException:
                    self.codes["no answer"] += 1
                    time.sleep(0.1)
                    continue
                self.codes[response.status_code] += 1
                if response.status_code == 201:
                    out.write(f"committed {response.json()['id']}\n")
                    self.created_at.append(time.time())
                elif response.status_code == 503:
                    if response.json().get("error", {}).get("code") != "database_unavailable":
                        self.bad_bodies.append(response.text[:200])
                else:
                    self.bad_bodies.append(f"{response.status_code}: {response.text[:200]}")
                self.stopped.wait(0.03)


class OutageLoad:
    """What an outage scenario (a restart, a failover) meets: three workers, the Python
    producer and an HTTP client through the web server, all on `url`."""

    def __init__(self, url: str, fleet, tasks: int, pause: float) -> None:
        self.url, self.fleet = url, fleet
        token = fleet.manage("create_api_token", "faults").strip()
        self.workers = [fleet.worker("--concurrency", "2") for _ in range(3)]
        base = f"http://127.0.0.1:{free_port()}"
        self.web = fleet.web(int(base.rsplit(":", 1)[1]))
        wait_until(lambda: requests.get(f"{base}/api/health", timeout=5).ok, 60)
        fleet.producer("--count", str(tasks), "--batch", "50", "--pause", str(pause),
                       "--rollback-every", "5", "--payload", '{"sleep": 0.01}')
        self.http = HttpProducer(base, token, fleet.folder / "produced-http.log")
        self.http.start()

    def first_201_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the API's first task created after it."""
        return next((t - moment for t in self.http.created_at if t > moment), None)

    def finish(self, lab: Lab):
        """Stop the HTTP client, drain, audit: (the audit, the processes that died)."""
        self.http.stopped.set()
        self.http.join(15)
        drain(self.url, self.fleet, 300)
        result = lab.audit(self.url, self.fleet)
        dead = [w.name for w in self.workers if not w.alive()] + ([] if self.web.alive() else ["web"])
        return result, dead

    def problems(self, result) -> list[str]:
        """What every outage scenario must show: the producers met it, and the API never
        answered otherwise than 201 or 503 in the error shape."""
        problems = []
        if not (result.refused or result.in_doubt) or not self.http.codes.get(503):
            problems.append("the producers did not meet the outage: the scenario proved nothing")
        if self.http.codes.get(500) or self.http.bad_bodies:
            problems.append(f"the API answered other than 201/503 in the error shape: {self.http.bad_bodies[:3]}")
        return problems

    def http_answers(self) -> str:
        return ", ".join(f"{code}: {n}" for code, n in sorted(self.http.codes.items(), key=str))


def restart_postgres(lab: Lab) -> Result:
    """2. Restart PostgreSQL (a crash: immediate stop), then drop every backend,
    in the middle of a drain with a producer and the web server under load."""
    name, tasks, down = "s2_restart", (1500 if lab.short else 6000), (4 if lab.short else 10)
    url, fleet = lab.scenario(name)
    # Paced to outlast the outage, so that some enqueues meet it.
    load = OutageLoad(url, fleet, tasks, pause=0.3 if lab.short else 0.15)
    time.sleep(3)
    lab.cluster.stop("immediate")
    time.sleep(down)
    lab.cluster.start()
    back = time.time()
    wait_until(lambda: completed_since(url, back), 120)
    first_task_after_restart = completed_since(url, back) - back
    first_201 = load.first_201_after(back)
    time.sleep(3)
    terminated = lab.cluster.terminate_backends(name)
    cut = time.time()
    wait_until(lambda: completed_since(url, cut), 60)
    first_task_after_cut = completed_since(url, cut) - cut
    time.sleep(2)
    result, dead = load.finish(lab)
    problems = load.problems(result)
    if dead:
        problems.append(f"process(es) exited instead of reconnecting: {dead}")
    fleet.stop_all()
    # Claims that committed while the connection broke before their rows came back
    # (see Worker._recover_lost_claim): rare, since the break must fall in between.
    recovered = sum(int(n) for w in load.workers
                    for n in re.findall(r"recovered (\d+) task\(s\) claimed", w.output()))
    return Result(
        2, "PostgreSQL restarted (crash) and every backend terminated, mid-drain", result,
        faults=f"immediate stop, {down} s down, restart; then {terminated} backends terminated",
        recovery=f"first task done {first_task_after_restart:.1f} s after the restart, "
                 f"{first_task_after_cut:.1f} s after the terminations",
        figures={"workers": "3 × concurrency 2, plus a Python producer and an HTTP client through the web server",
                 "HTTP answers": load.http_answers(),
                 "API creating tasks again after the restart": "n/a" if first_201 is None else f"{first_201:.1f} s",
                 "processes that had to be restarted": "none" if not dead else ", ".join(dead),
                 "tasks recovered from claims whose answer was lost": str(recovered)},
        problems=problems,
    )


def completed_since(url: str, since: float) -> float | None:
    """The time (epoch seconds) of the first task completed after `since`, if any."""
    value = scalar(url, "SELECT extract(epoch FROM min(completed_at)) FROM tasks_task "
                        "WHERE completed_at > to_timestamp(%s)", [since])
    return None if value is None else float(value)


def long_transaction(lab: Lab) -> Result:
    """5. A transaction held open elsewhere during a drain: the slowdown, and
    the vacuum settings of the tasks table."""
    name = "s5_long_txn"
    # Tasks of 5 ms, so that 4 slots drain at most ~800/s and the queue outlasts
    # the hold (no-op tasks would all be done within seconds).
    tasks = 15000 if lab.short else 70000
    before, hold, after = (4, 10, 4) if lab.short else (10, 60, 15)
    url, fleet = lab.scenario(name)
    fleet.producer("--count", str(tasks), "--batch", "1000", "--payload", '{"sleep": 0.005}').wait(300)
    for _ in range(2):
        fleet.worker("--concurrency", "2")
    wait_until(lambda: completed(url) >= 200, 60)
    rate_before = _rate(url, before)
    holder = psycopg.connect(url)
    holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM tasks_task")  # takes the snapshot that holds back vacuum
    dead_at_start = _dead_tuples(url)
    rate_during = _rate(url, hold)
    dead_during = _dead_tuples(url)
    holder.rollback()
    holder.close()
    rate_after = _rate(url, after)
    drain(url, fleet, 600)
    options = scalar(url, "SELECT reloptions FROM pg_class WHERE relname = 'tasks_task'")
    fleet.stop_all()
    slowdown = (1 - rate_during / rate_before) * 100 if rate_before else 0
    return Result(
        5, f"A transaction held open for {hold} s during a drain", lab.audit(url, fleet),
        faults=f"REPEATABLE READ snapshot held {hold} s",
        recovery=f"throughput {rate_after:.0f}/s after it closed ({rate_before:.0f}/s before)",
        figures={"tasks": f"{tasks} of 5 ms queued up front, 2 workers × concurrency 2",
                 "throughput before / during / after": f"{rate_before:.0f} / {rate_during:.0f} / "
                                                       f"{rate_after:.0f} tasks/s",
                 "slowdown while held": f"{slowdown:.0f} %",
                 "dead tuples in tasks_task at the start / end of the hold": f"{dead_at_start} / {dead_during}",
                 "storage options of tasks_task": ", ".join(options or [])},
    )


def _rate(url: str, window: float) -> float:
    """Tasks completed per second over `window` seconds (shorter if the queue empties)."""
    start, done = time.monotonic(), completed(url)
    wait_until(lambda: active(url) == 0, window, interval=0.5)
    return (completed(url) - done) / (time.monotonic() - start)


def _dead_tuples(url: str) -> int:
    return scalar(url, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'tasks_task'")


class ConnectionSampler(threading.Thread):
    """The largest number of connections to one database, sampled every 100 ms:
    as PostgreSQL sees them, or as PgBouncer counts its server connections."""

    def __init__(self, admin_url: str, dbname: str, bouncer: Bouncer | None = None) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.dbname, self.bouncer, self.peak = admin_url, dbname, bouncer, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stopped.is_set():
                if self.bouncer:
                    count = self.bouncer.server_connections()
                else:
                    count = conn.execute(CONNECTIONS, [self.dbname]).fetchone()[0]
                self.peak = max(self.peak, count)
                self.stopped.wait(0.1)

    def stop(self) -> int:
        self.stopped.set()
        self.join(5)
        return self.peak


def connection_budget(lab: Lab) -> Result:
    """6. N workers with concurrency C hold a bounded number of connections;
    behind PgBouncer in transaction mode, the poll-only mode works."""
    n, c, pool = 3, 4, 4
    tasks = 1000 if lab.short else 5000
    direct_url, direct = lab.scenario("s6_direct")
    direct.producer("--count", str(tasks), "--batch", "500", "--payload", '{"sleep": 0.005}').wait(120)
    time.sleep(1)  # the producer's backend outlives its process by a moment
    sampler = ConnectionSampler(lab.cluster.url(), "s6_direct")
    sampler.start()
    for _ in range(n):
        direct.worker("--concurrency", str(c))
    drain(direct_url, direct, 300)
    direct_peak = sampler.stop()
    direct.stop_all()
    budget = n * 6  # supervisor, claim and outcome threads, LISTEN, housekeeping, webhooks
    audit = lab.audit(direct_url, direct)
    problems = [] if direct_peak <= budget else [f"{direct_peak} connections, over the budget of {budget}"]
    figures = {"direct: workers": f"{n} × concurrency {c}, LISTEN on",
               "direct: peak connections": f"{direct_peak} (budget N × 6 = {budget}; slots open none "
                                           "unless a handler uses the ORM)"}
    faults = "none (measurement)"
    if Bouncer.available():
        bounced_audit, bounced = _through_pgbouncer(lab, n, c, pool, tasks)
        figures.update(bounced["figures"])
        problems += bounced["problems"]
        faults = "1 SIGKILL behind PgBouncer"
        audit = _merge(audit, bounced_audit)
    else:
        problems.append("PgBouncer is not installed (apt-get install pgbouncer): the pooled half did not run")
    return Result(6, "Connection budget; PgBouncer in transaction mode", audit, faults=faults,
                  recovery=figures.get("pgbouncer: rescue of the killed worker's tasks", "n/a"),
                  figures=figures, problems=problems)


def _through_pgbouncer(lab: Lab, n: int, c: int, pool: int, tasks: int):
    name = "s6_pgbouncer"
    lab.cluster.create_database(name, template="faults_template")
    bouncer = Bouncer(lab.cluster, name, pool_size=pool)
    fleet = lab.fleet(bouncer.url, name, {"QUEUE_LISTEN": "false", "QUEUE_PREPARE": "false"})
    direct_url = lab.cluster.url(name)
    try:
        fleet.producer("--count", str(tasks), "--batch", "500", "--payload", '{"sleep": 0.02}').wait(120)
        sampler = ConnectionSampler(lab.cluster.url(), name, bouncer)
        sampler.start()
        for _ in range(n):
            fleet.worker("--concurrency", str(c))
        wait_until(lambda: completed(direct_url) >= tasks // 4, 120)
        victim = fleet.workers[0]
        victim.signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait(10)
        fleet.worker("--concurrency", str(c))
        drain(direct_url, fleet, 300)
        peak = sampler.stop()
        rescued = query(direct_url, """
            SELECT extract(epoch FROM max((e->>'at')::timestamptz)) FROM tasks_task t, jsonb_array_elements(t.errors) e
            WHERE e->>'type' = 'tasks.exceptions.WorkerLost'""")[0][0]
        errors = sum(w.output().count("Traceback") for w in fleet.workers)
        fleet.stop_all()
        audit = lab.audit(direct_url, fleet)
    finally:
        bouncer.stop()
    problems = [] if peak <= pool else [f"{peak} server connections behind PgBouncer, over its pool of {pool}"]
    if errors:
        problems.append(f"{errors} traceback(s) in the worker logs behind PgBouncer")
    figures = {
        "pgbouncer: workers": f"{n} × concurrency {c}, QUEUE_LISTEN=false, QUEUE_PREPARE=false, pool_mode=transaction",
        "pgbouncer: peak server connections": f"{peak}, as PgBouncer counts them (default_pool_size {pool}), "
                                               f"for {n * 3} client connections",
        "pgbouncer: rescue of the killed worker's tasks": "n/a" if rescued is None
        else f"{float(rescued) - killed_at:.1f} s after the SIGKILL",
    }
    return audit, {"figures": figures, "problems": problems}


def _merge(a, b):
    for name in ("committed", "rolled_back", "in_doubt", "in_doubt_committed", "refused", "finished",
                 "executions", "duplicated"):
        setattr(a, name, getattr(a, name) + getattr(b, name))
    a.lost += b.lost
    a.unexplained += b.unexplained
    a.rolled_back_ran += b.rolled_back_ran
    a.attempt_errors += b.attempt_errors
    return a
