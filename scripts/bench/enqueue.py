"""Enqueue: one at a time through Python, in bulk through Python, and over HTTP.

Python: the built-in `echo` (tasks.queue) and a no-op django.tasks function
(scripts/bench/pytask.py), side by side.

HTTP is measured with wrk (a real load generator, Debian package `wrk`) against
the production web server as `make run` starts it: uvicorn with
WEB_CONCURRENCY processes. The load generator shares the machine's cores with
the server and PostgreSQL.
"""

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from scripts.bench.util import LOGS, ROOT, log_file, say, stop
from tests.support.processes import free_port, wait_for

QUEUE = "bench-enqueue"


def single(n: int, kind: str = "echo") -> float:
    """Tasks per second, each in its own transaction: `queue.enqueue` of echo, or
    `.enqueue()` of a no-op django.tasks function."""
    from scripts.bench.pytask import noop
    from tasks import queue

    task = noop.using(queue_name=QUEUE)
    started = time.perf_counter()
    for i in range(n):
        if kind == "echo":
            queue.enqueue("echo", None, queue=QUEUE)
        else:
            task.enqueue(i)
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue one at a time, {kind}: {rate:,.0f} tasks/s")
    return rate


def bulk(n: int, chunk: int, kind: str = "echo") -> float:
    """Tasks per second, `chunk` per call and transaction: `queue.build` + `queue.enqueue_many`
    of echo (validation included), or `.enqueue_many()` of a no-op django.tasks function."""
    from scripts.bench.pytask import noop
    from tasks import queue

    task = noop.using(queue_name=QUEUE)
    started = time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        if kind == "echo":
            queue.enqueue_many([queue.build("echo", None, queue=QUEUE) for _ in range(size)])
        else:
            task.enqueue_many([(i,) for i in range(start, start + size)])
    rate = n / (time.perf_counter() - started)
    say(f"  enqueue_many, {chunk:,} per call, {kind}: {rate:,.0f} tasks/s")
    return rate


@dataclass
class HttpRun:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    tasks_per_request: int = 1

    @property
    def tasks_per_s(self) -> float:
        return self.requests_per_s * self.tasks_per_request


class WebServer:
    """uvicorn serving the project, as `manage.py serve` starts it (access log included)."""

    def __init__(self, processes: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queueproject.webserver", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(processes)],
            cwd=ROOT, stdout=log_file("web"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self._healthy, 60, 0.2, message="the web server")
        self.token = subprocess.run([sys.executable, "manage.py", "create_api_token", "bench"], cwd=ROOT,
                                    check=True, capture_output=True, text=True).stdout.strip()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def post(self, path: str, body) -> int:
        request = urllib.request.Request(f"{self.url}{path}", method="POST", data=json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        stop(self.proc)


LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token {token}"
"""


def wrk(server: WebServer, path: str, body, seconds: int, connections: int, tasks_per_request: int = 1) -> HttpRun:
    """Run wrk against `path` with a fixed JSON body; every response must be 2xx."""
    script = LOGS / "post.lua"
    script.write_text(LUA.format(body=json.dumps(json.dumps(body)), token=server.token))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"{server.url}{path}"], check=True, capture_output=True, text=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"bench: wrk saw errors:\n{out}")
    run = HttpRun(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                  _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
                  _ms(re.search(r"\s99%\s+(\S+)", out).group(1)), tasks_per_request)
    say(f"  POST {path} ({connections} connections, {tasks_per_request} task(s) per request): "
        f"{run.requests_per_s:,.0f} requests/s, {run.tasks_per_s:,.0f} tasks/s, "
        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms")
    return run


def bulk_body(server: WebServer, size: int):
    """The body POST /api/tasks/bulk accepts on this branch, or None when it does not exist."""
    tasks = [{"type": "echo", "payload": None, "queue": QUEUE} for _ in range(size)]
    for body in ({"tasks": tasks}, tasks):
        if server.post("/api/tasks/bulk", body) in (200, 201):
            return body
    return None


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    value = float(re.match(r"[\d.]+", text).group(0))
    unit = text[len(re.match(r"[\d.]+", text).group(0)):]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
