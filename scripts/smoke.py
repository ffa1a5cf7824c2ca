#!/usr/bin/env python
"""Smoke test of the whole service as `make run` starts it.

Starts `manage.py serve` (uvicorn + a worker) on a free port with the current
environment (no DATABASE_URL: the embedded PostgreSQL), creates a task over
HTTP, waits for it to complete, stops the service with Ctrl-C (SIGINT) and
checks that it exits 0. Used by .ci/run.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.processes import free_port  # noqa: E402


def call(method: str, url: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"smoke: timed out waiting for {what}")


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORT": str(port)}
    service = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_until(lambda: call("GET", f"{base}/api/health")["workers"] >= 1, 90, "the service and a worker")
        token = subprocess.run([sys.executable, "manage.py", "create_api_token", "smoke"], cwd=ROOT, env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
        task = call("POST", f"{base}/api/tasks", token, {"type": "echo", "payload": {"smoke": True}})
        print(f"smoke: created task {task['id']} ({task['status']})")
        done = wait_until(lambda: (t := call("GET", f"{base}/api/tasks/{task['id']}", token))["status"] == "completed" and t,
                          30, "the task to complete")
        assert done["result"] == {"smoke": True}, done
        print(f"smoke: task completed with result {done['result']}")
    finally:
        os.killpg(service.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        code = service.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"smoke: the service exited with {code} after Ctrl-C")
    print("smoke: service stopped cleanly")


if __name__ == "__main__":
    main()
