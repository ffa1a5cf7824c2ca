"""HTTP load: the web server as `make run` starts it, and wrk against it.

wrk (Debian package `wrk`) is a real load generator; it shares the machine's
cores with the server and PostgreSQL. Requests are authenticated with tokens
of their own users, taken in turn (`tokens`), so that a run with many
connections is many clients, each under its own rate limit, as in production.
"""

import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import psutil

from scripts.bench.util import LOGS, ROOT, log_file, say, stop
from tests.support.processes import free_port, wait_for

# Each connection's requests are counted by status; done() prints the counts.
LUA = """
local tokens = {tokens}
local body = {body}
local i = 0
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {{}} end
function request()
  i = i % #tokens + 1
  return wrk.format("{method}", nil, {{["Authorization"] = "Token " .. tokens[i],
                                       ["Content-Type"] = "application/json"}}, body)
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do io.write("status ", status, " ", count, "\\n") end
  end
end
"""


@dataclass
class HttpRun:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0
    tasks_per_request: int = 1

    @property
    def tasks_per_s(self) -> float:
        return self.requests_per_s * self.tasks_per_request

    def served_per_s(self, status_range=range(200, 300)) -> float:
        """Responses per second with a status in `status_range` (2xx by default)."""
        return sum(n for status, n in self.statuses.items() if status in status_range) / self.seconds


class WebServer:
    """The web server as `manage.py serve` starts it (queueproject/webserver.py)."""

    def __init__(self, processes: int, env: dict | None = None):
        import os

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queueproject.webserver", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(processes)],
            cwd=ROOT, stdout=log_file("web"), stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        wait_for(self._healthy, 60, 0.2, message="the web server")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def workers(self) -> list[psutil.Process]:
        """The processes that serve requests (the launcher only supervises them)."""
        return psutil.Process(self.proc.pid).children(recursive=True)

    def request(self, method: str, path: str, token: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", method=method, data=data)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def stop(self) -> None:
        stop(self.proc)


def tokens(count: int, prefix: str = "bench") -> list[str]:
    """New API keys (every scope) of `count` users named PREFIX-N (made if needed)."""
    from django.contrib.auth import get_user_model

    from tasks.access import Scope
    from tasks.models import ApiKey

    users = [get_user_model().objects.get_or_create(username=f"{prefix}-{n}")[0] for n in range(count)]
    return [ApiKey.objects.issue(user, "bench", list(Scope))[1] for user in users]


def wrk(server: WebServer, method: str, path: str, seconds: int, connections: int, keys: list[str],
        body=None, tasks_per_request: int = 1, expect=range(200, 300), label: str = "") -> HttpRun:
    """Run wrk; every response must have a status in `expect`."""
    script = LOGS / "load.lua"
    script.write_text(LUA.format(tokens="{" + ", ".join(json.dumps(k) for k in keys) + "}", method=method,
                                 body="nil" if body is None else json.dumps(json.dumps(body))))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"{server.url}{path}"], check=True, capture_output=True, text=True,
    ).stdout
    statuses = {int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", out, re.MULTILINE)}
    if "Socket errors" in out or set(statuses) - set(expect):
        raise SystemExit(f"bench: wrk saw errors or unexpected statuses {statuses}:\n{out}")
    run = HttpRun(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                  _ms(re.search(r"\s50%\s+(\S+)", out).group(1)), _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
                  statuses, float(re.search(r"requests in ([\d.]+)s", out).group(1)), tasks_per_request)
    rate = f"{run.tasks_per_s:,.0f} tasks/s, " if tasks_per_request > 1 else ""
    say(f"  {label or method + ' ' + path} ({connections} connections): {run.requests_per_s:,.0f} requests/s, "
        f"{rate}p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms")
    return run


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    number = re.match(r"[\d.]+", text).group(0)
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[text[len(number):]]
