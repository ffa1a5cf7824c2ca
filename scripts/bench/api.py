"""The REST API under load, next to what PostgreSQL allows for the same work.

The reference is pgbench running a one-row INSERT into tasks_task (its
indexes and triggers included: the same table the API writes) with as many
clients as wrk has connections. The server is the one `make run` starts
(2 processes, every default: token authentication, rate limits and
backpressure on); wrk's connections are separate clients with tokens of their
own, except in the one-token run, which shows what one client is allowed.
"""

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import psutil
import psycopg
from psycopg.conninfo import make_conninfo

from scripts.bench.profile import Recording, py_spy
from scripts.bench.util import LOGS, median, say
from scripts.bench.wrk import HttpRun, WebServer, tokens, wrk

QUEUE = "bench-api"
ECHO = {"type": "echo", "payload": None, "queue": QUEUE}
# The reference documents' routes (tasks/api/compat.py): document 003's task structure with
# metadata (read by the serializer, not the fast intake), and document 002's email endpoint.
V1_TASK = {"type": "echo", "payload": {"to": "user@example.com"}, "priority": 2, "max_retries": 5, "timeout": 300,
           "metadata": {"user_id": "123"}, "queue": QUEUE}
EMAIL_002 = {"to": "user@example.com", "subject": "Hello", "body": "Welcome!", "queue": QUEUE}

# A task row as the API writes it for ECHO, with an id that grows with time as
# UUIDv7 ids do (index locality matters to insert speed), in pgbench's default
# (simple) protocol, as Django sends its statements.
INSERT = """\
INSERT INTO tasks_task (id, type, payload, queue, priority, status, run_at, max_retries, retry_count, attempt,
    webhook, last_error, errors, progress_message, created_at, updated_at)
VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'
         || substr(md5(random()::text), 1, 19))::uuid,
        'echo', NULL, 'bench-insert', 0, 'pending', now(), 3, 0, 0, '', '', '[]', '', now(), now());
"""


@dataclass
class ServerUse:
    """Peak memory per web process, and the most database connections the web
    processes held together."""

    connections: int
    processes: int
    rss_mb: list[float] = field(default_factory=list)


def insert_reference(url: str, clients: int, seconds: int) -> float:
    """Rows per second pgbench inserts into tasks_task with `clients` connections."""
    script = LOGS / "insert.sql"
    script.write_text(INSERT)
    out = subprocess.run(["pgbench", "--no-vacuum", "--file", str(script), "--client", str(clients),
                          "--jobs", str(min(clients, 2)), "--time", str(seconds), url],
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"tps = ([\d.]+)", out).group(1))
    say(f"  pgbench one-row INSERT into tasks_task, {clients} client(s): {rate:,.0f} rows/s")
    return rate


class ConnectionWatch:
    """Samples, while running, how many connections the web server's processes hold
    (in pg_stat_activity, by the application name they connect with: TCP or not)."""

    def __init__(self, url: str):
        self.url = url
        self.most = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(0.2):
                count = conn.execute(COUNT_WEB_CONNECTIONS, [WEB_APPLICATION]).fetchone()[0]
                self.most = max(self.most, count)

    def stop(self) -> int:
        self.stopping.set()
        self.thread.join()
        return self.most


WEB_APPLICATION = "bench-web"
COUNT_WEB_CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"


def measure(url: str, seconds: int, runs: int, bulk_size: int) -> dict:
    """Every figure of the section: the INSERT reference, then the server's runs (medians of `runs`)."""
    from tasks.models import Task

    result = {"insert": {}}
    keys = tokens(16)
    server = WebServer(processes=2, env={"DATABASE_URL": make_conninfo(url, application_name=WEB_APPLICATION)})
    try:
        status, task = server.request("POST", "/api/tasks", keys[0], ECHO)
        assert status == 201, status
        one = f"/api/tasks/{task['id']}"
        median_of = _median_runs(runs)
        wrk(server, "POST", "/api/tasks", 2, 16, keys, ECHO, label="warm-up")
        # Each POST run right after its INSERT reference, so that both meet the same load from elsewhere.
        watch = ConnectionWatch(url)
        for clients, name in ((16, "post"), (1, "post_one")):
            references, posts = [], []
            for _ in range(runs):
                references.append(insert_reference(url, clients, seconds))
                posts.append(wrk(server, "POST", "/api/tasks", seconds, clients, keys[:clients], ECHO))
            result["insert"][clients] = median(references)
            result[name] = _medians(posts)
            result[name]["ratios"] = [p.requests_per_s / r for p, r in zip(posts, references, strict=True)]
        use = ServerUse(connections=watch.stop(), processes=len(server.workers()))
        result["get"] = median_of(lambda: wrk(server, "GET", one, seconds, 16, keys))
        result["health"] = median_of(lambda: wrk(server, "GET", "/api/health", seconds, 16, keys))
        result["stats"] = median_of(lambda: wrk(server, "GET", "/api/stats", seconds, 16, keys))
        result["list"] = median_of(lambda: wrk(server, "GET", "/api/tasks", seconds, 16, keys, label="list page"))
        result["post_v1"] = median_of(lambda: wrk(server, "POST", "/api/v1/tasks", seconds, 16, keys, V1_TASK))
        result["queue_email"] = median_of(lambda: wrk(server, "POST", "/api/queue/email", seconds, 16, keys, EMAIL_002))
        bulk = {"tasks": [ECHO] * bulk_size}
        result["bulk"] = median_of(lambda: wrk(server, "POST", "/api/tasks/bulk", seconds, 4, keys, bulk, bulk_size))
        result["bulk"]["size"] = bulk_size
        # One client, one token, as fast as 16 connections go: what its rate limit lets through.
        single = [wrk(server, "GET", one, seconds, 16, keys[:1], expect=(200, 429), label="one token")
                  for _ in range(runs)]
        result["one_token"] = {"served_per_s": median([r.served_per_s() for r in single]),
                               "refused_per_s": median([r.served_per_s((429,)) for r in single])}
        if py_spy():
            result["profile"] = _profile(server, keys, seconds)
        use.rss_mb = [_peak_rss_mb(p) for p in server.workers()]
        result["use"] = use
        result["tasks_written"] = Task.objects.filter(queue=QUEUE).count()
    finally:
        server.stop()
    say(f"  web processes: peak RSS {', '.join(f'{m:.0f} MB' for m in use.rss_mb)}; "
        f"most connections to PostgreSQL {use.connections} for {use.processes} processes")
    return result


def _profile(server: WebServer, keys: list[str], seconds: int) -> str:
    """py-spy on one web process while 16 connections POST."""
    recording = Recording(server.workers()[0].pid, "web", WEB_PROFILE, seconds=seconds, gil=True)
    time.sleep(0.5)  # py-spy attaches
    wrk(server, "POST", "/api/tasks", seconds, 16, keys, ECHO, label="POST, profiled")
    return recording.summary()


WEB_PROFILE = ("samples of one of the two web processes while 16 connections POST /api/tasks: the thread "
               "holding the interpreter at each sample, so where the process's Python CPU goes (waiting for "
               "PostgreSQL is not in it)")


def _median_runs(runs: int):
    return lambda measure: _medians([measure() for _ in range(runs)])


def _medians(results: list[HttpRun]) -> dict:
    return {name: median([getattr(r, name) for r in results])
            for name in ("requests_per_s", "tasks_per_s", "p50_ms", "p99_ms")}


def _peak_rss_mb(process: psutil.Process) -> float:
    for line in open(f"/proc/{process.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
